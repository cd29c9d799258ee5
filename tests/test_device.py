import sys

import pytest
import torch

from fake_devices import FAKES, faked
from lmutils.device import (autocast_dtype, capabilities, describe, in_colab, pick_device, resolve_compile,
                            resolve_dtype, seed_everything, size_column, synchronize)
from lmutils.progress import Printer


def test_pick_device_cpu_and_override(monkeypatch):
    monkeypatch.delenv("LMUTILS_DEVICE", raising=False)
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setenv("LMUTILS_DEVICE", "cpu")
    assert pick_device() == torch.device("cpu")


def test_pick_device_automatic_order(monkeypatch):
    monkeypatch.delenv("LMUTILS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert pick_device() == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device() == torch.device("cuda")


def test_cuda_without_cuda_says_what_to_do(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA GPU.*device='cpu'"):
        pick_device("cuda")
    monkeypatch.setitem(sys.modules, "google.colab", object())
    with pytest.raises(RuntimeError, match="Change runtime type"):
        pick_device("cuda:0")


def test_mps_without_mps(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="MPS"):
        pick_device("mps")


def test_unknown_device_name():
    with pytest.raises(ValueError, match="unknown device 'gpu'.*cuda, mps, cpu"):
        pick_device("gpu")


def test_seed_everything_repeats_runs():
    seed_everything(7)
    a = torch.randn(5)
    seed_everything(7)
    assert torch.equal(a, torch.randn(5))


def test_colab_detection_is_fakeable(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert not in_colab()
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert in_colab()


def test_autocast_dtype_and_describe():
    assert autocast_dtype(torch.device("cpu")) is None
    assert describe(torch.device("cpu")) == "cpu"


# --- the device table, on machines faked as torch 2.13 reports them (tests/fake_devices.py) ------------------

# machine: (preset_for, autocast dtype, GradScaler, torch.compile), for preset_for's preset and for "auto"
EXPECTED = {
    "T4": ("shakespeare-char-t4", torch.float16, True, True),
    "V100": ("shakespeare-char-t4", torch.float16, True, True),
    "P100": ("shakespeare-char-t4", torch.float16, True, False),
    "A100": ("shakespeare-char-ampere", torch.bfloat16, False, True),
    "H100": ("shakespeare-char-ampere", torch.bfloat16, False, True),
    "Windows RTX 3060": ("shakespeare-char-ampere", torch.bfloat16, False, False),
    "MPS": ("shakespeare-char-cpu", None, False, False),
    "CPU": ("shakespeare-char-cpu", None, False, False),
}


def test_every_faked_machine_has_an_expectation():
    assert set(EXPECTED) == set(FAKES)


def test_the_fake_t4_answers_as_torch_does_on_colab():
    with faked("T4"):
        assert torch.cuda.is_bf16_supported()  # torch's own answer: True, through emulation
        assert not torch.cuda.is_bf16_supported(including_emulation=False)
        assert torch.cuda.get_device_capability() == (7, 5)


@pytest.mark.parametrize("machine", list(EXPECTED))
def test_preset_dtype_scaler_and_compile_for_each_machine(machine, monkeypatch):
    from lmutils.presets import get_preset, preset_for

    preset, dtype, scaler, compiled = EXPECTED[machine]
    monkeypatch.delenv("LMUTILS_DEVICE", raising=False)
    with faked(machine) as expected_device:
        device = pick_device()
        assert device == expected_device
        caps = capabilities(device)
        settings = get_preset(preset_for(device))
        assert preset_for(device) == preset
        assert resolve_dtype(settings["dtype"], device) == resolve_dtype("auto", device) == autocast_dtype(device) \
            == caps.autocast_dtype == dtype
        assert caps.grad_scaler == scaler == (dtype == torch.float16)  # fit's GradScaler is on for fp16 alone
        assert resolve_compile(settings["compile"], device)[0] == compiled
        assert caps.sizes == size_column(device) == ("gpu" if device.type == "cuda" else "cpu")
        assert caps.why  # says why, in one line


@pytest.mark.parametrize("machine", ["T4", "V100", "P100"])
def test_bf16_on_a_gpu_without_it_is_refused_with_what_to_use(machine):
    with faked(machine) as device:
        with pytest.raises(ValueError, match=r"no bfloat16 in hardware.*compute capability 8\.0.*dtype='float16'"):
            resolve_dtype("bfloat16", device)
        assert resolve_dtype("float16", device) == torch.float16


def test_capability_is_checked_even_where_torch_cannot_be_asked_without_emulation(monkeypatch):
    """An older torch has no including_emulation: its answer is trusted only with compute capability 8.0."""
    with faked("T4") as device:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
        assert autocast_dtype(device) == torch.float16
    with faked("A100") as device:
        monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
        assert autocast_dtype(device) == torch.bfloat16


def test_no_compile_without_triton_on_linux_either():
    with faked("T4", triton=False) as device:
        on, note = resolve_compile(True, device)
        assert not on and "triton is not installed" in note


def test_compile_asked_for_where_it_cannot_work_trains_without_it(monkeypatch, capsys, tiny_ids, tiny_gpt, quick):
    from lmutils.train import fit

    monkeypatch.setattr(sys, "platform", "win32")  # a Windows CPU: the table says torch.compile cannot work
    assert resolve_compile(True, "cpu") == (False, "note: torch.compile is off on this device (CPU): "
                                            "not on Windows, where the course leaves it off")
    monkeypatch.setattr(torch, "compile", lambda *a, **k: pytest.fail("compiled where it cannot work"))
    history = fit(tiny_gpt(), tiny_ids, tiny_ids, quick(max_iters=2, eval_interval=2, compile=True), device="cpu",
                  report=Printer())
    assert history.steps[-1] == 2
    assert "note: torch.compile is off on this device (CPU)" in capsys.readouterr().out


def test_compile_on_a_cpu_only_when_asked_for():
    caps = capabilities("cpu")
    assert not caps.compile and caps.can_compile
    assert resolve_compile(False, "cpu") == (False, None) and resolve_compile(True, "cpu") == (True, None)


def test_synchronize_waits_for_the_device_it_times(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("cuda"))
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("mps"))
    for device in ("cpu", "mps", "cuda", torch.device("cuda:0")):
        synchronize(device)
    assert calls == ["mps", "cuda", "cuda"]


@pytest.mark.parametrize("capability, dtype", [((7, 5), torch.float16), ((8, 0), torch.bfloat16)])
def test_a_gpu_faked_by_hand_with_only_its_capability(monkeypatch, capability, dtype):
    """The issue's own check: capability and is_bf16_supported() faked, nothing else (no driver to name the GPU)."""
    from lmutils.presets import preset_for

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert autocast_dtype(torch.device("cuda")) == dtype
    assert capabilities("cuda").grad_scaler == (dtype == torch.float16)
    assert preset_for("cuda") == ("shakespeare-char-t4" if dtype == torch.float16 else "shakespeare-char-ampere")
