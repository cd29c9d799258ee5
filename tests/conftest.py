import torch
import pytest


@pytest.fixture
def tiny_ids():
    """A small repetitive token stream: learnable in a few dozen steps."""
    g = torch.Generator().manual_seed(0)
    pattern = torch.randint(0, 12, (40,), generator=g)
    return pattern.repeat(60)
