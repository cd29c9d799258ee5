"""Muon from its update rule (lmutils.muon) step for step against torch.optim.Muon, and in fit()."""

import pytest
import torch

from lmutils.checkpoint import CheckpointError
from lmutils.muon import Muon, Optimizers, adjusted_lr, muon_groups, newton_schulz
from lmutils.train import TrainConfig, make_optimizer

needs_torch_muon = pytest.mark.skipif(not hasattr(torch.optim, "Muon"), reason="this torch has no torch.optim.Muon")


def _matrices(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g).requires_grad_() for shape in [(24, 8), (8, 24), (16, 16)]]


@needs_torch_muon
@pytest.mark.parametrize("kw", [dict(), dict(nesterov=False), dict(adjust_lr_fn="match_rms_adamw"),
                                dict(momentum=0.8, weight_decay=0.0, ns_steps=3)])
def test_muon_matches_torch_step_for_step(kw):
    ours, theirs = _matrices(), _matrices()
    opt_ours, opt_theirs = Muon(ours, lr=0.02, **kw), torch.optim.Muon(theirs, lr=0.02, **kw)
    g = torch.Generator().manual_seed(1)
    for _ in range(8):
        for a, b in zip(ours, theirs):
            a.grad = torch.randn(a.shape, generator=g)
            b.grad = a.grad.clone()
        opt_ours.step(), opt_theirs.step()
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b, atol=0, rtol=0)
            torch.testing.assert_close(opt_ours.state[a]["momentum_buffer"], opt_theirs.state[b]["momentum_buffer"])


@needs_torch_muon
def test_muon_trains_a_gpt_as_torch_does(tiny_gpt, tiny_ids):
    models = tiny_gpt(norm="rmsnorm", pos="rope"), tiny_gpt(norm="rmsnorm", pos="rope")
    opts = [cls(muon_groups(m)[0], lr=0.05) for cls, m in zip((Muon, torch.optim.Muon), models)]
    x, y = tiny_ids[:64].view(4, 16), tiny_ids[1:65].view(4, 16)
    for _ in range(5):
        for m, opt in zip(models, opts):
            torch.nn.functional.cross_entropy(m(x).flatten(0, 1), y.flatten()).backward()
            opt.step()
            opt.zero_grad()
    for a, b in zip(*(m.parameters() for m in models)):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def test_newton_schulz_sets_every_singular_value_near_one():
    g = torch.Generator().manual_seed(0)
    # a gradient-like matrix: a few directions dominate (its singular values spread over two orders of magnitude)
    G = torch.randn(64, 4, generator=g) @ torch.randn(4, 32, generator=g) * 10 + torch.randn(64, 32, generator=g)
    s_before = torch.linalg.svdvals(G)
    ortho = newton_schulz(G).float()
    s_after = torch.linalg.svdvals(ortho)
    assert s_before[0] / s_before[-1] > 100 and ortho.shape == G.shape
    assert s_after.min() > 0.5 and s_after.max() < 1.3
    U, _, Vh = torch.linalg.svd(G, full_matrices=False)
    assert torch.nn.functional.cosine_similarity((U @ Vh).flatten(), ortho.flatten(), dim=0) > 0.95  # ≈ P Qᵀ


def test_shape_scale():
    assert adjusted_lr(0.02, (384, 128)) == pytest.approx(0.02 * 3 ** 0.5)
    assert adjusted_lr(0.02, (128, 512)) == 0.02
    assert adjusted_lr(0.02, (128, 512), "match_rms_adamw") == pytest.approx(0.02 * 0.2 * 512 ** 0.5)
    with pytest.raises(ValueError, match="adjust_lr_fn"):
        Muon(_matrices(), adjust_lr_fn="mine")


def test_muon_refuses_vectors_and_says_where_they_go():
    with pytest.raises(ValueError, match="2-D.*AdamW"):
        Muon([torch.zeros(5, requires_grad=True)])


@pytest.mark.parametrize("tie", [True, False])
def test_muon_groups_take_the_block_matrices_only(tiny_gpt, tie):
    model = tiny_gpt(norm="rmsnorm", pos="rope", mlp="swiglu", tie_weights=tie)
    matrices, rest = muon_groups(model)
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in matrices} == {"blocks.0.attn.qkv.weight", "blocks.0.attn.proj.weight",
                                                "blocks.0.mlp.gate.weight", "blocks.0.mlp.up.weight",
                                                "blocks.0.mlp.proj.weight"}
    assert "tok_emb.weight" in {names[id(p)] for p in rest} and ("head.weight" in names.values()) != tie
    assert len(matrices) + len(rest) == len(list(model.parameters()))


def test_the_adamw_path_is_torchs_adamw_as_before(tiny_gpt):
    model = tiny_gpt()
    opt = make_optimizer(model, TrainConfig(), torch.device("cpu"))
    assert type(opt) is torch.optim.AdamW and len(opt.param_groups) == 2
    assert all("lr_scale" not in group for group in opt.param_groups)


def test_make_optimizer_muon_scales_each_groups_rate(tiny_gpt, tiny_ids):
    from lmutils.train import train_step

    model = tiny_gpt(norm="rmsnorm", pos="rope")
    cfg = TrainConfig(optimizer="muon", learning_rate=4e-3, muon_lr=0.03)
    opt = make_optimizer(model, cfg, torch.device("cpu"))
    assert isinstance(opt, Optimizers) and isinstance(opt.optimizers[0], Muon)
    batch = lambda: (tiny_ids[:32].view(2, 16), tiny_ids[1:33].view(2, 16))  # noqa: E731
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    train_step(model, opt, scaler, 2e-3, batch, 1, 1.0, lambda: torch.autocast("cpu", enabled=False))
    muon_group, *adamw_groups = opt.param_groups
    assert muon_group["lr"] == pytest.approx(0.015) and all(g["lr"] == 2e-3 for g in adamw_groups)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TrainConfig(optimizer="sgd")


def test_fit_with_muon_learns_and_resumes_exactly(tiny_ids, tiny_gpt, quick, train_quietly, tmp_path):
    cfg = dict(optimizer="muon", muon_lr=0.02, learning_rate=5e-3)
    straight = tiny_gpt(norm="rmsnorm", pos="rope")
    history = train_quietly(straight, tiny_ids, quick(**cfg))
    assert history.eval_val[-1] < 0.5 * history.eval_val[0]
    path = tmp_path / "run40.pt"
    train_quietly(tiny_gpt(norm="rmsnorm", pos="rope"), tiny_ids,
                  quick(**cfg, max_iters=40, lr_decay_iters=60, checkpoint=str(path)))
    resumed = tiny_gpt(seed=5, norm="rmsnorm", pos="rope")
    train_quietly(resumed, tiny_ids, quick(**cfg, lr_decay_iters=60, checkpoint=str(path)))
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="another --optimizer"):
        train_quietly(tiny_gpt(norm="rmsnorm", pos="rope"), tiny_ids,
                      quick(lr_decay_iters=60, max_iters=60, checkpoint=str(path)))
