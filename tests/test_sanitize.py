"""The nbval sanitiser (tests/nbval_sanitize.cfg) hides what truly varies (times, speeds), and the values that
record() prints beside their reference (record checks those itself, within tolerance), and nothing else."""

import re
from pathlib import Path

from nbval.plugin import get_sanitize_patterns

PATTERNS = get_sanitize_patterns(Path(__file__).with_name("nbval_sanitize.cfg").read_text(encoding="utf-8"))


def sanitise(text: str) -> str:
    """What nbval does to every output before it compares: each (regex, replacement) in turn."""
    for regex, replacement in PATTERNS:
        text = re.sub(regex, replacement, text)
    return text


def test_times_and_speeds_are_hidden_whatever_their_width():
    assert sanitise("LSTM   400     9.8 s    1.8851") == sanitise("LSTM   400    12.3 s    1.8851")
    assert sanitise("trained 600 steps in 37.7 s (12,222 tokens/s, MFU n/a)") == \
        sanitise("trained 600 steps in 123.0 s (9,876 tokens/s, MFU n/a)")
    assert sanitise("naive attention: 41.9 ms, fused: 13.0 ms") == sanitise("naive attention: 8.1 ms, fused: 2.0 ms")
    assert sanitise("| 46,281 tokens/s | MFU 35.2%") == sanitise("| 1,281 tokens/s | MFU 4.0%")


def test_results_are_never_hidden():
    for a, b in [("val loss 1.8851", "val loss 1.8852"), ("600 steps", "700 steps"),
                 ("perplexity 6.59", "perplexity 6.60"),
                 ("2 processes", "3 processes"), ("MFU n/a", "MFU 1.0%")]:
        assert sanitise(a) != sanitise(b)


def test_recorded_values_are_hidden_only_beside_their_reference():
    assert sanitise("val_loss/rnn = 1.8415 (reference 1.8415 ± 0.03 on CPU)") == \
        sanitise("val_loss/rnn = 1.8735 (reference 1.8415 ± 0.031 on CPU)")
    assert sanitise("grad_norm = 6.8e+09 (reference 1.9e+11 ± 2e+11 on CPU)") == \
        sanitise("grad_norm = 1.9e+11 (reference 1.9e+11 ± 2e+11 on CPU)")
    # the metric's name still counts, and so does a number printed without a reference
    assert sanitise("val_loss/rnn = 1.8415 (reference 1.8415 ± 0.03 on CPU)") != \
        sanitise("val_loss/lstm = 1.8415 (reference 1.8415 ± 0.03 on CPU)")
    assert sanitise("val_loss/rnn = 1.8415") != sanitise("val_loss/rnn = 1.8416")


def test_only_the_colab_hint_of_a_device_error_goes():
    # The Colab-like pass fakes google.colab, so pick_device's error gains this hint there and nowhere else.
    hint = " On Colab: Runtime > Change runtime type > GPU."
    assert sanitise("no GPU here." + hint) == sanitise("no GPU here.")
    assert sanitise("On Colab the GPU runs it") == "On Colab the GPU runs it"


def test_every_pattern_is_tested_here():
    assert len(PATTERNS) == 5, "a new pattern in nbval_sanitize.cfg needs a test in this file"
