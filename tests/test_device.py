import sys

import pytest
import torch

from lmutils.device import autocast_dtype, describe, in_colab, pick_device, seed_everything


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
