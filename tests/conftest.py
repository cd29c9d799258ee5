import matplotlib
import pytest
import torch

matplotlib.use("Agg")  # no window, no display needed: tests draw into memory


@pytest.fixture
def tiny_ids():
    """A small repetitive token stream: learnable in a few dozen steps."""
    g = torch.Generator().manual_seed(0)
    pattern = torch.randint(0, 12, (40,), generator=g)
    return pattern.repeat(60)


@pytest.fixture
def tiny_gpt():
    """Makes small GPTs for tiny_ids' 12 tokens: tiny_gpt(), tiny_gpt(seed=1, n_embd=64)."""
    from lmutils.models import GPT, GPTConfig

    def make(seed: int = 0, **kw):
        torch.manual_seed(seed)
        return GPT(GPTConfig(**dict(vocab_size=12, block_size=16, n_layer=1, n_head=2, n_embd=32) | kw))
    return make


@pytest.fixture
def quick():
    """Makes short training configurations for tiny_ids: quick(), quick(max_iters=30, dtype="float16")."""
    from lmutils.train import TrainConfig

    def make(**kw):
        return TrainConfig(**dict(max_iters=60, batch_size=8, block_size=16, eval_interval=20, eval_iters=4,
                                  log_interval=10, learning_rate=1e-2) | kw)
    return make


@pytest.fixture
def train_quietly():
    """fit() on the CPU with nothing printed or drawn (report=None: the evaluation lines printed)."""
    from lmutils.progress import Reporter
    from lmutils.train import fit

    def run(model, ids, cfg, **kw):
        return fit(model, ids, ids, cfg, **dict(device="cpu", report=Reporter()) | kw)
    return run
