"""lmutils.optim, written from the update equations, against torch.optim step for step."""

import pytest
import torch

from lmutils import optim


def _model_and_batches(seed=0, steps=30):
    g = torch.Generator().manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    X, t = torch.randn(steps, 16, 3, generator=g), torch.randint(0, 2, (steps, 16), generator=g)
    return model, list(zip(X, t))


def _train(model, opt, batches):
    trace = []
    for X, t in batches:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(X), t).backward()
        opt.step()
        trace.append(torch.cat([p.detach().flatten() for p in model.parameters()]).clone())
    return torch.stack(trace)


@pytest.mark.parametrize("ours, theirs, kwargs", [
    (optim.SGD, torch.optim.SGD, {"lr": 0.1}),
    (optim.SGD, torch.optim.SGD, {"lr": 0.05, "momentum": 0.9}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.01}),
    (optim.Adam, torch.optim.Adam, {"lr": 0.003, "betas": (0.8, 0.95), "eps": 1e-6}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.01, "weight_decay": 0.1}),
    (optim.AdamW, torch.optim.AdamW, {"lr": 0.01}),      # the default weight decay, 0.01, is the same
])
def test_step_for_step_like_torch(ours, theirs, kwargs):
    m1, batches = _model_and_batches()
    m2, _ = _model_and_batches()
    a = _train(m1, ours(m1.parameters(), **kwargs), batches)
    b = _train(m2, theirs(m2.parameters(), **kwargs), batches)
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_adam_first_step_is_lr_times_sign():
    """Bias correction: at t = 1, m̂ = g and v̂ = g², so each weight moves by η (almost exactly) against g."""
    w = torch.tensor([1.0, -2.0, 3.0], requires_grad=True)
    opt = optim.Adam([w], lr=0.1)
    (w * torch.tensor([5.0, -0.01, 300.0])).sum().backward()
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([0.9, -1.9, 2.9]), atol=1e-5, rtol=0)


def test_clip_grad_norm_like_torch():
    g = torch.Generator().manual_seed(1)
    a = [torch.randn(4, 3, generator=g).requires_grad_() for _ in range(2)]
    b = [p.detach().clone().requires_grad_() for p in a]
    for ps in (a, b):
        sum((p ** 3).sum() for p in ps).backward()
    norm = optim.clip_grad_norm(a, 1.0)
    norm_torch = torch.nn.utils.clip_grad_norm_(b, 1.0)
    assert norm == pytest.approx(norm_torch.item(), rel=1e-6)
    for p, q in zip(a, b):
        torch.testing.assert_close(p.grad, q.grad)
    assert optim.clip_grad_norm(a, 10.0) == pytest.approx(1.0, rel=1e-5)   # already short enough: unchanged


def test_bad_input_says_what_to_do():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="positive"):
        optim.Adam([torch.zeros(2, requires_grad=True)], lr=0.0)
