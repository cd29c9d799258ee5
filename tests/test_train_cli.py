"""The training command (python -m lmutils.run, alias python -m lmutils.train), its presets, the benchmark, MFU,
and data-parallel training with torchrun on CPU processes (gloo). Its checks before training: tests/test_run.py."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lmutils import presets, train
from lmutils.checkpoint import load_checkpoint, load_model, save_checkpoint
from lmutils.distributed import split_batch
from lmutils.models import GPT, GPTConfig
from lmutils.run import bench_main, main, split_settings
from lmutils.speed import format_speed, gpu_peak_flops, mfu, peak_flops
from lmutils.train import History, lr_at

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--preset", "shakespeare-char-cpu", "--device", "cpu", "--n-layer", "1", "--n-head", "2", "--n-embd", "32",
        "--block-size", "32", "--batch-size", "8", "--eval-interval", "20", "--eval-iters", "4",
        "--learning-rate", "3e-3", "--warmup-iters", "5", "--lr-decay-iters", "60", "--no-progress"]
EVAL_LINE = re.compile(r"^step +(\d+) \| train loss ([\d.]+) \| val loss ([\d.]+)", re.M)


def eval_lines(text):
    return [(int(s), float(t), float(v)) for s, t, v in EVAL_LINE.findall(text)]


# --- presets ---------------------------------------------------------------------------------------

def test_reference_preset_is_nanogpts_shakespeare_char():
    s = presets.get_preset("shakespeare-char")
    assert {k: s[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "dropout")} == \
        dict(n_layer=6, n_head=6, n_embd=384, block_size=256, batch_size=64, dropout=0.2)
    assert (s["learning_rate"], s["min_lr"], s["max_iters"], s["lr_decay_iters"], s["warmup_iters"]) == \
        (1e-3, 1e-4, 5000, 5000, 100)
    assert (s["beta2"], s["weight_decay"], s["grad_clip"], s["eval_interval"], s["eval_iters"]) == \
        (0.99, 0.1, 1.0, 250, 200)
    assert s["compile"] and s["dtype"] == "auto"


def test_cpu_preset_and_device_variants():
    cpu = presets.get_preset("shakespeare-char-cpu")
    assert {k: cpu[k] for k in ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "dropout")} == \
        dict(n_layer=2, n_head=4, n_embd=128, block_size=128, batch_size=16, dropout=0.0)
    assert cpu["max_iters"] == cpu["lr_decay_iters"] == 1800 and cpu["eval_iters"] == 20
    assert (cpu["learning_rate"], cpu["min_lr"], cpu["warmup_iters"]) == (1e-2, 1e-3, 100)  # tuned, see presets
    assert not cpu["compile"]
    assert presets.get_preset("shakespeare-char-t4")["dtype"] == "float16"
    assert presets.get_preset("shakespeare-char-ampere")["dtype"] == "bfloat16"
    for name in presets.PRESETS:  # every preset builds a valid model and training config
        corpus, model_kw, cfg = split_settings(presets.get_preset(name))
        assert corpus == "shakespeare" and cfg.block_size == model_kw["block_size"]


def test_unknown_preset_or_setting_lists_the_known_ones():
    with pytest.raises(ValueError, match="known presets are shakespeare-char, .*shakespeare-char-cpu"):
        presets.get_preset("shakespeare")
    with pytest.raises(ValueError, match=r"unknown setting\(s\) n_layers; known settings: .*n_layer"):
        presets.get_preset("shakespeare-char-cpu", n_layers=2)


def test_max_iters_alone_shortens_the_schedule():
    s = presets.get_preset("shakespeare-char-cpu", max_iters=300)
    assert (s["lr_decay_iters"], s["warmup_iters"]) == (300, 30)  # the preset's 1800 and 100 would not fit
    _, _, cfg = split_settings(s)
    assert lr_at(299, cfg) == pytest.approx(s["min_lr"], rel=1e-3)  # the run ends where the schedule does
    assert "cosine down to 0.001 at step 300 (the schedule follows max_iters)" in presets.format_preset(
        "shakespeare-char-cpu", s)
    assert presets.get_preset("shakespeare-char-cpu", max_iters=5000)["warmup_iters"] == 100  # longer: as it was
    given = presets.get_preset("shakespeare-char-cpu", max_iters=300, lr_decay_iters=2000, warmup_iters=50)
    assert (given["lr_decay_iters"], given["warmup_iters"]) == (2000, 50)  # given explicitly: kept
    text = presets.format_preset("shakespeare-char-cpu", given)
    assert "at step 2000, after the last step: the run ends before the learning rate is down" in text


def test_format_preset_says_what_changed():
    text = presets.format_preset("shakespeare-char-cpu", presets.get_preset("shakespeare-char-cpu", max_iters=100))
    assert "changed    max_iters=100" in text
    assert "2 layers, 4 heads, 128 wide, context 128" in text and "2,048 tokens per step" in text
    assert "changed" not in presets.format_preset("shakespeare-char")
    assert presets.format_presets().count("\n") == len(presets.PRESETS)


# --- speed: MFU ------------------------------------------------------------------------------------

def test_peak_flops_by_gpu_name():
    assert gpu_peak_flops("NVIDIA A100-SXM4-80GB") == 312e12
    assert gpu_peak_flops("NVIDIA A100 80GB PCIe") == 312e12
    assert gpu_peak_flops("Tesla T4") == 65e12
    assert gpu_peak_flops("NVIDIA A10") == 125e12
    assert gpu_peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert gpu_peak_flops("NVIDIA H100 PCIe") == 756e12
    assert gpu_peak_flops("NVIDIA A10G") is None  # not A10, not A100: unknown rather than wrong
    assert gpu_peak_flops("NVIDIA GeForce RTX 4090") is None
    assert peak_flops("cpu") is None


def test_mfu_arithmetic():
    model = GPT(GPTConfig(vocab_size=65, block_size=256, n_layer=6, n_head=6, n_embd=384))
    f = model.flops_per_token()
    n = sum(p.numel() for p in model.parameters()) - 256 * 384  # without position embeddings
    assert f == 6 * n + 12 * 6 * 256 * 384
    # at 1M tokens/s an A100 would be at 6.4e13 / 3.12e14 of its peak
    assert mfu(f, 1e6, 312e12) == pytest.approx(f * 1e6 / 312e12)
    assert mfu(f, 2e6, 312e12, n_devices=2) == pytest.approx(mfu(f, 1e6, 312e12))
    assert mfu(f, 1e6, None) is None
    assert format_speed(41_000.4, 0.3521) == "41,000 tokens/s | MFU 35.2%"
    assert format_speed(41_000, None) == "41,000 tokens/s | MFU n/a"
    h = History(seconds=2.0, tokens=2_000_000, flops_per_token=f, peak_flops=312e12, world_size=2)
    assert h.mfu == pytest.approx(f * 1e6 / (2 * 312e12))


# --- the command -----------------------------------------------------------------------------------

def test_command_trains_saves_and_resumes(tmp_path, capsys, monkeypatch):
    ckpt = str(tmp_path / "run.pt")
    assert main(TINY + ["--max-iters", "40", "--checkpoint", ckpt, "--sample", "40", "--grad-clip", "none"]) == 0
    out = capsys.readouterr().out
    assert "changed    " in out and "grad_clip=None" in out and "no gradient clipping" in out
    assert "MFU n/a" in out and re.search(r"step +20 \| .* \| [\d,]+ tokens/s \| MFU n/a", out)
    steps = eval_lines(out)
    assert [s for s, _, _ in steps] == [0, 20, 40]
    assert steps[-1][2] < steps[0][2] - 0.4  # validation loss went down
    assert "sample:\n" in out
    state = load_checkpoint(ckpt)
    assert state["step"] == 40 and state["train_config"]["grad_clip"] is None
    model, tok = load_model(ckpt)
    assert model.config.n_embd == 32 and tok.vocab_size == 65

    assert main(TINY + ["--max-iters", "60", "--checkpoint", ckpt, "--sample", "0", "--grad-clip", "none"]) == 0
    out = capsys.readouterr().out
    assert f"resumed from {ckpt} at step 40" in out
    assert [s for s, _, _ in eval_lines(out)] == [60]
    assert load_checkpoint(ckpt)["step"] == 60

    # run again with fewer steps than the checkpoint holds: nothing to train, said at once
    monkeypatch.setattr(train, "train_step", lambda *a: pytest.fail("trained on past --max-iters"))
    assert main(TINY + ["--max-iters", "40", "--checkpoint", ckpt, "--sample", "0", "--grad-clip", "none"]) == 0
    out = capsys.readouterr().out
    assert "nothing to train: the checkpoint is at step 60, past max_iters=40" in out
    assert load_checkpoint(ckpt)["step"] == 60


def test_export_saves_the_weights_alone(tmp_path, capsys):
    ckpt, export = tmp_path / "run.pt", tmp_path / "weights.pt"
    assert main(TINY + ["--max-iters", "20", "--checkpoint", str(ckpt), "--export", str(export), "--sample", "0"]) == 0
    assert f"exported the weights to {export}" in capsys.readouterr().out
    state, full = load_checkpoint(export), load_checkpoint(ckpt)
    assert state["optimizer"] is None and state["step"] == 20 and state["train_config"]["max_iters"] == 20
    assert export.stat().st_size < ckpt.stat().st_size / 2
    model, tok = load_model(export)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), full["model"].values()))
    assert tok.vocab_size == 65
    assert main(TINY + ["--max-iters", "30", "--checkpoint", str(export), "--sample", "0"]) == 1
    assert "it cannot be resumed" in capsys.readouterr().err  # an export is not a training run


def test_command_errors_are_clear(tmp_path, capsys):
    if not torch.cuda.is_available():
        assert main(["--device", "cuda", "--show"]) == 1
        assert "CUDA was asked for" in capsys.readouterr().err
    assert main(["--preset", "tiny", "--show"]) == 1
    assert "known presets are" in capsys.readouterr().err
    other = tmp_path / "other.pt"  # a checkpoint of another shape at the path the run would resume from
    save_checkpoint(other, GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=1, n_head=2, n_embd=64)))
    assert main(TINY + ["--max-iters", "5", "--checkpoint", str(other)]) == 1
    assert "holds another model: --n-embd 64 (this run: 32)" in capsys.readouterr().err
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(other.read_bytes()[:500])
    assert main(TINY + ["--max-iters", "5", "--checkpoint", str(truncated)]) == 1
    assert "truncated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--dtype", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
    latin = tmp_path / "notes.txt"  # not UTF-8: Cyrillic in Windows-1251
    latin.write_bytes("Привет, мир. ".encode("cp1251") * 100)
    assert main(TINY + ["--max-iters", "5", "--corpus", str(latin)]) == 1
    err = capsys.readouterr().err
    assert f"{latin} is not UTF-8 text" in err and "iconv -f" in err and "Traceback" not in err


def test_show_and_list_presets(capsys):
    assert main(["--list-presets"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in presets.PRESETS)
    assert main(["--preset", "shakespeare-char", "--device", "cpu", "--show", "--max-iters", "2000"]) == 0
    out = capsys.readouterr().out
    assert "6 layers, 6 heads, 384 wide, context 256" in out and "changed    max_iters=2000" in out
    assert "model: GPT" not in out  # --show builds and trains nothing
    assert main(["--preset", "shakespeare-char-cpu", "--show", "--max-iters", "300"]) == 0
    out = capsys.readouterr().out
    assert "300 steps, lr 0.01 reached after 30 warm-up steps, cosine down to 0.001 at step 300" in out
    with pytest.raises(SystemExit):
        main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert "the N processes share out the batch_size × grad_accum sequences of each step" in usage


def test_bench_prints_one_summary_line(capsys):
    assert bench_main(TINY + ["--max-iters", "20", "--quiet"]) == 0
    (line,) = capsys.readouterr().out.strip().splitlines()
    m = re.fullmatch(r"bench shakespeare-char-cpu \| cpu \| ([\d.]+)M params \| 20 steps \| ([\d.]+) s \| "
                     r"([\d,]+) tokens/s \| MFU n/a \| train ([\d.]+) \| val ([\d.]+) \| "
                     r"val \(whole split\) ([\d.]+), perplexity ([\d.]+) \| RSS peak ([\d,]+) MiB", line)
    assert m, line
    params, seconds, speed, train, val, whole, ppl, mem = m.groups()
    assert float(params) == pytest.approx(0.02, abs=0.01) and float(seconds) > 0 and int(speed.replace(",", "")) > 0
    assert 1.5 < float(val) < 4.2 and float(ppl) == pytest.approx(2.718281828 ** float(whole), rel=1e-3)
    assert int(mem.replace(",", "")) > 50


def test_processes_share_out_the_batch():
    assert split_batch(64, 4, 1) == (64, 4)
    assert split_batch(64, 8, 4) == (64, 2)  # nanoGPT's way: the micro-batches are shared out
    assert split_batch(64, 1, 4) == (16, 1)  # or, where they cannot be, each micro-batch
    with pytest.raises(ValueError, match="cannot be shared out evenly among 3 processes.*--grad-accum 3"):
        split_batch(8, 1, 3)


def test_data_parallel_with_torchrun_on_two_cpu_processes(tmp_path):
    ckpt = tmp_path / "ddp.pt"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "lmutils.train"] + TINY + ["--max-iters", "40", "--grad-accum", "2", "--dropout", "0.1",
                                      "--checkpoint", str(ckpt), "--sample", "0"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    # the two processes share out the 8 × 2 sequences of a step: the tokens per step of one process
    assert ("data parallel: 2 processes (gloo), each 1 micro-batch(es) of 8 × 32 tokens per step: "
            "512 tokens per step in all") in out
    steps = eval_lines(out)
    assert [s for s, _, _ in steps] == [0, 20, 40]  # printed once: only rank 0 evaluates and prints
    assert steps[-1][2] < steps[0][2] - 0.4
    assert "the 2 processes hold identical parameters (largest difference 0.0e+00)" in out
    state = load_checkpoint(ckpt)
    assert state["step"] == 40 and len(state["rng"]["ranks"]) == 2
    # each process drew its own batches
    assert not torch.equal(state["rng"]["ranks"][0]["batch"], state["rng"]["ranks"][1]["batch"])
