"""The training command's checks before training (lmutils.run): every bad or unusual input gets a one-line message
that names the setting and what to do, before any step is trained; a resume trains the same run, or refuses; the
best weights are kept, over-fitting is said, and the sample comes from the text's own characters. Tiny texts and
models, a few steps each."""

import random
import re

import pytest
import torch

from lmutils import preflight
from lmutils import run as command
from lmutils.checkpoint import load_checkpoint, load_model
from lmutils.data import read_text

TINY = ["--preset", "shakespeare-char-cpu", "--device", "cpu", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
        "--block-size", "16", "--batch-size", "8", "--eval-interval", "10", "--eval-iters", "2", "--max-iters", "20",
        "--warmup-iters", "2", "--no-progress", "--sample", "20"]


def text_file(tmp_path, text: str, name: str = "text.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def verse(n: int, seed: int = 0) -> str:
    """n characters of made-up verse: lines of words over a small alphabet."""
    rng = random.Random(seed)
    words = ["the", "sea", "and", "sky", "are", "one", "blue", "wave", "on", "sand"]
    out = ""
    while len(out) < n:
        out += " ".join(rng.choice(words) for _ in range(6)) + "\n"
    return out[:n]


def cmd(args, capsys):
    code = command.main(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def never_trains(monkeypatch):
    """The run must be refused before training: fit is never called."""
    monkeypatch.setattr(command, "fit", lambda *a, **k: pytest.fail("trained although the input was refused"))


def refused(args, capsys, *expected):
    code, out, err = cmd(args, capsys)
    assert code == 1, out + err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    return err


# --- settings ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["--learning-rate", "nan"], "--learning-rate must be a finite number, got nan"),
    (["--learning-rate", "inf"], "--learning-rate must be a finite number, got inf"),
    (["--dropout", "nan"], "--dropout must be at least 0 and below 1, got nan"),
    (["--learning-rate", "1e-4"], "--learning-rate 0.0001 is below --min-lr 0.001"),
    (["--warmup-iters", "100"], "--warmup-iters 100 is not shorter than the run (20 steps)"),
    (["--n-layer", "0"], "--n-layer must be at least 1, got 0"),
    (["--n-embd", "31"], "--n-embd (31) must be divisible by --n-head (2)"),
    (["--checkpoint-interval", "0"], "--checkpoint-interval must be at least 1, got 0"),
    (["--batch-size", "0", "--show"], "--batch-size must be at least 1, got 0"),
    (["--sample", "-5"], "--sample must be 0 (no sample) or a number of characters"),
    (["--grad-clip", "0"], "--grad-clip must be positive"),
    (["--dtype", "float16"], "--dtype float16 on a CPU"),
])
def test_nonsensical_settings_are_refused_before_training(args, expected, capsys, never_trains):
    refused(TINY + args, capsys, expected)


def test_bfloat16_on_a_cpu_says_what_it_costs(capsys, never_trains):
    code, out, _ = cmd(TINY + ["--dtype", "bfloat16", "--show"], capsys)
    assert code == 0 and "--dtype bfloat16 on a CPU is fast only on CPUs with bfloat16 instructions" in out


# --- the text --------------------------------------------------------------------------------------------

def test_a_text_too_short_for_the_context_says_how_short(tmp_path, capsys, never_trains):
    err = refused(TINY + ["--corpus", text_file(tmp_path, verse(100)), "--block-size", "128"], capsys,
                  "the text is too short for --block-size 128", "Lower --block-size to at most 9",
                  "at least 1,281 characters")
    assert "len(ids)" not in err
    refused(TINY + ["--corpus", text_file(tmp_path, "a")], capsys, "the text is too short to train on: 1 character",
            "at least 11 for --block-size 1")
    refused(TINY + ["--corpus", text_file(tmp_path, "")], capsys, "is empty")
    assert preflight.shortest_text(8) == 81 and preflight.shortest_text(128) == 1281  # 81 - 72 > 8, 80 - 72 = 8


def test_a_100_character_text_trains_at_a_context_that_fits(tmp_path, capsys):
    code, out, err = cmd(TINY + ["--corpus", text_file(tmp_path, verse(100)), "--block-size", "8", "--max-iters",
                                 "40"], capsys)
    assert code == 0, err
    assert "28.4 passes over the training text" in out and "is many" in out  # 40 × 64 tokens over 90 characters
    assert "sample:\n" in out


def test_a_byte_order_mark_is_not_a_character(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_text("hello", encoding="utf-8-sig")
    assert path.read_bytes()[:3] == b"\xef\xbb\xbf" and read_text(path) == "hello"


@pytest.mark.parametrize("text, encoding, name", [
    ("春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。\n", "gbk", "GB18030"),
    ("春眠不覺曉，處處聞啼鳥。夜來風雨聲，花落知多少。\n", "big5", "BIG5"),
    ("Café crème, naïve résumé, señor. ", "cp1252", "CP1252"),
    ("Привет, мир. Как дела? ", "cp1251", "CP1251"),
])
def test_the_encoding_hint_names_the_likely_encoding(tmp_path, capsys, never_trains, text, encoding, name):
    path = tmp_path / "other.txt"
    path.write_bytes((text * 50).encode(encoding))
    err = refused(TINY + ["--corpus", str(path)], capsys, f"{path} is not UTF-8 text", f"iconv -f {name} -t UTF-8")
    if name == "GB18030":
        assert "GBK/GB18030" in err


# --- the prompt ------------------------------------------------------------------------------------------

def test_the_prompt_is_checked_before_training(tmp_path, capsys, never_trains):
    err = refused(TINY + ["--prompt", "你好"], capsys, "--prompt '你好' has 2 character(s) that the text never uses")
    assert "unk=" not in err
    refused(TINY + ["--prompt", ""], capsys, "--prompt is empty")


def test_the_default_prompt_comes_from_the_text(tmp_path, capsys):
    assert preflight.default_prompt("ab\ncd") == "\n" and preflight.default_prompt("春眠不觉晓") == "春"
    code, out, err = cmd(TINY + ["--corpus", text_file(tmp_path, verse(3000).replace("\n", " ")), "--max-iters",
                                 "10"], capsys)
    assert code == 0, err
    assert re.search(r"sample:\nthe|sample:\n\w", out)  # the text's first character, not "\n"


# --- the checkpoint path -------------------------------------------------------------------------------

def test_an_unusable_checkpoint_path_is_refused_before_training(tmp_path, capsys, never_trains):
    refused(TINY + ["--checkpoint", str(tmp_path)], capsys, f"--checkpoint {tmp_path} is a folder",
            f"--checkpoint {tmp_path / 'run.pt'}")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    refused(TINY + ["--checkpoint", str(a_file / "run.pt")], capsys, f"{a_file} is a file, not a folder")
    refused(TINY + ["--export", str(a_file / "w.pt")], capsys, "--export", "is a file, not a folder")
    if sys_is_linux():
        refused(TINY + ["--checkpoint", "/proc/x.pt"], capsys, "--checkpoint /proc/x.pt cannot be written",
                "a folder you may write to")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no temporary file left behind


def sys_is_linux() -> bool:
    import sys

    return sys.platform.startswith("linux")


# --- the machine ----------------------------------------------------------------------------------------

def test_a_context_that_cannot_fit_in_memory_is_refused(capsys, never_trains, monkeypatch):
    monkeypatch.setattr(preflight, "machine_memory", lambda device: 2 * 2**30)  # a 2 GiB machine
    err = refused(TINY + ["--block-size", "20000", "--n-embd", "128", "--n-layer", "2"], capsys,
                  "--block-size 20000", "GiB of memory, and this machine has 2.0 GiB", "lower --block-size")
    assert "needs about" in err


def test_a_step_that_takes_long_is_said_before_training(capsys, never_trains, monkeypatch):
    monkeypatch.setattr(preflight, "machine_memory", lambda device: 2**50)
    monkeypatch.setattr(preflight, "measured_flops", lambda device: 1e10)  # a slow machine: 10 GFLOP/s
    code, out, _ = cmd(TINY + ["--block-size", "4096", "--n-embd", "128", "--show"], capsys)
    assert code == 0 and re.search(r"one step is [\d.]+ TFLOP: at this device's speed roughly [\d,]+ s a step", out)


def test_the_estimate_counts_the_parameters_as_the_model_does():
    from lmutils.models import GPT, GPTConfig, num_params

    for bias in (False, True):
        c = GPTConfig(vocab_size=65, block_size=64, n_layer=3, n_head=4, n_embd=48, bias=bias)
        assert preflight.gpt_params(c) == num_params(GPT(c))


# --- resuming --------------------------------------------------------------------------------------------

def test_a_resume_on_another_text_is_refused_unless_asked(tmp_path, capsys):
    ckpt = str(tmp_path / "run.pt")
    first = text_file(tmp_path, verse(4000, seed=0), "a.txt")
    assert cmd(TINY + ["--corpus", first, "--checkpoint", ckpt, "--sample", "0"], capsys)[0] == 0
    other_chars = text_file(tmp_path, verse(4000, seed=0).replace("s", "#"), "b.txt")
    refused(TINY + ["--corpus", other_chars, "--checkpoint", ckpt, "--max-iters", "30"], capsys,
            "was trained on another text", "'s'", "'#'", "--allow-new-data")
    refused(TINY + ["--corpus", other_chars, "--checkpoint", ckpt, "--max-iters", "30", "--allow-new-data"], capsys,
            "the checkpoint's model never saw ('#')")
    same_chars = text_file(tmp_path, verse(4000, seed=1), "c.txt")  # the same characters, another text
    refused(TINY + ["--corpus", same_chars, "--checkpoint", ckpt, "--max-iters", "30"], capsys,
            "was trained on another text than", "(the same characters, other contents)")
    code, out, err = cmd(TINY + ["--corpus", same_chars, "--checkpoint", ckpt, "--max-iters", "30",
                                 "--allow-new-data", "--sample", "0"], capsys)
    assert code == 0, err
    assert "trained 10 steps in this run (30 in all)" in out
    # from now on the checkpoint belongs to the new text
    code, out, err = cmd(TINY + ["--corpus", same_chars, "--checkpoint", ckpt, "--max-iters", "30", "--sample", "0"],
                         capsys)
    assert code == 0 and "nothing to train: the checkpoint is at step 30, at max_iters=30" in out
    assert "trained" not in out


def test_extending_a_run_keeps_its_schedule_and_says_so(tmp_path, capsys):
    ckpt = str(tmp_path / "run.pt")
    base = ["--preset", "shakespeare-char-cpu", "--device", "cpu", "--n-layer", "1", "--n-head", "2", "--n-embd",
            "32", "--block-size", "16", "--batch-size", "8", "--eval-interval", "10", "--eval-iters", "2",
            "--no-progress", "--sample", "0", "--corpus", text_file(tmp_path, verse(4000)), "--checkpoint", ckpt]
    assert cmd(base + ["--max-iters", "20"], capsys)[0] == 0  # warm-up 2, cosine to step 20 (max_iters alone)
    code, out, err = cmd(base + ["--max-iters", "40"], capsys)  # the preset's rule would now say warm-up 4, decay 40
    assert code == 0, err
    assert "extending the run from 20 to 40 steps on the checkpoint's schedule" in out
    assert "--lr-decay-iters 40 --allow-new-schedule stretches the decay" in out
    cfg = load_checkpoint(ckpt)["train_config"]
    assert (cfg["warmup_iters"], cfg["lr_decay_iters"], cfg["max_iters"]) == (2, 20, 40)
    assert "trained 20 steps in this run (40 in all)" in out
    refused(base + ["--max-iters", "50", "--learning-rate", "3e-3", "--min-lr", "3e-4"], capsys,
            "the checkpoint was trained with other settings: --learning-rate 0.01 (this run: 0.003)",
            "--allow-new-schedule")
    code, out, err = cmd(base + ["--max-iters", "50", "--learning-rate", "3e-3", "--min-lr", "3e-4",
                                 "--allow-new-schedule"], capsys)
    assert code == 0, err
    assert ("changing the run's settings at step 40 (--allow-new-schedule): --learning-rate 0.01 (this run: 0.003)"
            in out)


def test_a_resume_with_another_model_says_which_setting(tmp_path, capsys):
    ckpt = str(tmp_path / "run.pt")
    corpus = ["--corpus", text_file(tmp_path, verse(4000)), "--checkpoint", ckpt, "--sample", "0"]
    assert cmd(TINY + corpus, capsys)[0] == 0
    refused(TINY + corpus + ["--n-embd", "64"], capsys, "holds another model: --n-embd 32 (this run: 64)")


# --- over-fitting and the best weights -------------------------------------------------------------------

def overfitting_text(tmp_path) -> str:
    """A text whose training part is one pattern, "aaaaaaabcd" over and over, and whose validation part has the same
    letters as often but in a random order: what the model learns of the pattern (b is followed by c) makes it
    worse on the validation part."""
    rng = random.Random(0)
    return text_file(tmp_path, "aaaaaaabcd" * 180 + "".join(rng.choices("abcd", weights=(7, 1, 1, 1), k=200)))


def test_overfitting_is_said_once_and_the_best_weights_are_kept(tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    args = TINY + ["--corpus", overfitting_text(tmp_path), "--max-iters", "40", "--learning-rate", "3e-2",
                   "--min-lr", "3e-3", "--checkpoint", str(ckpt)]
    code, out, err = cmd(args, capsys)
    assert code == 0, err
    assert out.count("is well above its best") == 1 and "over-fitting" in out and "--early-stop" in out
    best = load_checkpoint(command.best_path(ckpt))
    assert best["step"] < 40 and best["optimizer"] is None  # weights only: load_model reads it
    load_model(command.best_path(ckpt))
    m = re.search(r"the best weights \(validation loss ([\d.]+), step (\d+)\) are in ", out)
    assert m and int(m.group(2)) == best["step"]
    assert re.search(r"sample \(from the (last weights|weights of step \d+)[^)]*\):\n[abcd\n]{20}", out)


def test_the_best_weights_are_kept_in_memory_and_beside_the_checkpoint(tmp_path):
    from lmutils.data import CharTokenizer
    from lmutils.models import GPT, GPTConfig
    from lmutils.train import TrainConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=4, block_size=8, n_layer=1, n_head=2, n_embd=16))
    keep = command.KeepBest(model, TrainConfig(checkpoint=str(tmp_path / "run.pt")), CharTokenizer("abcd"))
    keep.evaluated(10, 1.0, 2.0, None)
    at_10 = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.tok_emb.weight.add_(1.0)
    keep.evaluated(20, 0.5, 3.0, None)  # worse: kept as it was
    assert (keep.step, keep.val) == (10, 2.0) and load_checkpoint(tmp_path / "run.best.pt")["step"] == 10
    assert keep.load() and all(torch.equal(v, at_10[k]) for k, v in model.state_dict().items())
    again = command.KeepBest(model, TrainConfig(checkpoint=str(tmp_path / "run.pt")), CharTokenizer("abcd"))
    again.step, again.val = 10, 2.0  # a resumed run: the weights are in the file
    assert again.load() and all(torch.equal(v, at_10[k]) for k, v in model.state_dict().items())


def test_early_stop_stops_where_overfitting_starts(tmp_path, capsys):
    args = TINY + ["--corpus", overfitting_text(tmp_path), "--max-iters", "40", "--learning-rate", "3e-2",
                   "--min-lr", "3e-3", "--early-stop", "--sample", "0"]
    code, out, err = cmd(args, capsys)
    assert code == 0, err
    m = re.search(r"stopped early at step (\d+) of 40", out)
    assert m and int(m.group(1)) < 40
    assert re.search(rf"trained {m.group(1)} steps in", out)


def test_fit_warns_and_stops_the_same_way_without_the_command(tiny_gpt, quick, train_quietly):
    from lmutils.train import overfitting

    assert overfitting([2.0, 1.0, 1.2]) and not overfitting([2.0, 1.0, 1.04]) and not overfitting([1.0])
    g = torch.Generator().manual_seed(0)
    train_ids = torch.arange(12).repeat(60)
    val_ids = torch.randint(0, 12, (400,), generator=g)
    from lmutils.progress import Reporter
    from lmutils.train import fit

    history = fit(tiny_gpt(), train_ids, val_ids, quick(max_iters=200, eval_interval=10, learning_rate=3e-2,
                                                        early_stop=True), device="cpu", report=Reporter())
    assert history.eval_steps[-1] < 200 and overfitting(history.eval_val)


def test_a_file_that_is_not_text_says_so(tmp_path, capsys, never_trains):
    path = tmp_path / "picture.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    refused(TINY + ["--corpus", str(path)], capsys, "is not a text file at all")
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(verse(2000).encode("utf-16"))
    refused(TINY + ["--corpus", str(utf16)], capsys, "it looks like UTF-16", "iconv -f UTF-16 -t UTF-8")


def test_when_the_untrained_model_is_the_best_it_says_so(tmp_path, capsys):
    # after "a" the training part always has "b", the validation part always "a": training can only make it worse
    args = TINY + ["--corpus", text_file(tmp_path, "ab" * 900 + "a" * 200), "--max-iters", "40"]
    code, out, err = cmd(args, capsys)
    assert code == 0, err
    assert "the validation loss was lowest before training (step 0)" in out
    assert "sample (from the last weights, which over-fit: the best ones are the untrained model's)" in out
