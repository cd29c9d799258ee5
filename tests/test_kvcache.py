"""The KV cache generates exactly what plain generation does."""

import pytest
import torch

from lmutils.generate import generate
from lmutils.kvcache import generate_cached
from lmutils.models import GPT, GPTConfig


def _model(bias=False):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=50, block_size=48, n_layer=2, n_head=4, n_embd=32, bias=bias)).eval()


@pytest.mark.parametrize("bias", [False, True])
def test_greedy_generation_is_the_same_with_and_without_the_cache(bias):
    model = _model(bias)
    idx = torch.randint(0, 50, (3, 7), generator=torch.Generator().manual_seed(1))
    plain = generate(model, idx, 20, top_k=1)
    cached = generate_cached(model, idx, 20, top_k=1)
    assert torch.equal(plain, cached)


def test_sampling_with_the_same_generator_gives_the_same_tokens():
    model = _model()
    idx = torch.zeros(1, 1, dtype=torch.long)
    a = generate(model, idx, 15, generator=torch.Generator().manual_seed(3))
    b = generate_cached(model, idx, 15, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_a_result_longer_than_the_context_is_refused_clearly():
    with pytest.raises(ValueError, match="block_size"):
        generate_cached(_model(), torch.zeros(1, 10, dtype=torch.long), 40)


def test_the_cache_is_the_gpts_own_attention():
    """GPT.forward with caches, fed one token at a time, gives the logits of the whole sequence at once."""
    from lmutils.kvcache import KVCache

    model = _model()
    idx = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(2))
    caches = [KVCache() for _ in model.blocks]
    steps = [model(idx[:, :4], caches)] + [model(idx[:, t:t + 1], caches) for t in range(4, 9)]
    torch.testing.assert_close(torch.cat(steps, 1), model(idx), rtol=1e-5, atol=1e-5)
    assert len(caches[0]) == 9
    with pytest.raises(ValueError, match="one new token at a time"):
        model(idx[:, :2], caches)
