"""lmutils.ngram: counts and probabilities by hand, against a plain-Python reference and against PyTorch."""

import math
from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lmutils import ngram
from lmutils.data import encode_corpus
from lmutils.ngram import NGramLM, perplexity

# "ababca" with a = 0, b = 1, c = 2
TINY = torch.tensor([0, 1, 0, 1, 2, 0])


def reference_nll(train, ids, V, order, alpha):
    """The definition, one token at a time: count with Counters, then score each token with the context it
    has (at most order - 1 tokens; fewer at the start); unseen contexts are uniform."""
    pairs = Counter()
    for k in range(order):
        for t in range(k, len(train)):
            pairs[tuple(train[t - k:t + 1])] += 1
    total = 0.0
    for t, w in enumerate(ids):
        c = tuple(ids[max(0, t - order + 1):t])
        n_c = sum(pairs[c + (v,)] for v in range(V))
        p = 1 / V if n_c == 0 else (pairs[c + (w,)] + alpha) / (n_c + alpha * V)
        total -= math.log(p) if p > 0 else -math.inf
    return total / len(ids)


def test_counts_by_hand():
    uni, bi, tri = (NGramLM(3, order=o).fit(TINY) for o in (1, 2, 3))
    assert uni.counts().tolist() == [3, 2, 1]
    assert bi.counts([0]).tolist() == [0, 2, 0]       # a is followed by b twice
    assert bi.counts([1]).tolist() == [1, 0, 1]       # b by a once, by c once
    assert bi.counts([2]).tolist() == [1, 0, 0]
    assert bi.counts([2, 0]).tolist() == [0, 2, 0]    # only the last token counts for a bigram
    assert tri.counts([0, 1]).tolist() == [1, 0, 1]   # "ab" then a, "ab" then c
    assert tri.counts([1, 1]).tolist() == [0, 0, 0]   # "bb" never occurs
    assert tri.counts([0]).tolist() == [0, 2, 0]      # a short context uses the bigram counts
    assert sum(t[1].sum().item() for t in tri.tables[2:]) == len(TINY) - 2
    assert tri.distinct() == [3, 4, 4]                # a b c; ab ba bc ca; aba bab abc bca


def test_probabilities_by_hand():
    bi = NGramLM(3, order=2, alpha=1.0).fit(TINY)
    assert torch.allclose(bi.probs([0]), torch.tensor([1 / 5, 3 / 5, 1 / 5], dtype=torch.float64))
    assert torch.allclose(bi.probs([2]), torch.tensor([2 / 4, 1 / 4, 1 / 4], dtype=torch.float64))
    assert torch.allclose(bi.probs([]), torch.tensor([4 / 9, 3 / 9, 2 / 9], dtype=torch.float64))  # unigram
    bi.alpha = 0.0  # plain counting: relative frequencies
    assert torch.allclose(bi.probs([1]), torch.tensor([0.5, 0.0, 0.5], dtype=torch.float64))
    bi.alpha = 1.0
    # a = 4/9 by the unigram model (first token), then P(b|a) = 3/5, P(a|b) = 2/5
    expected = -(math.log(4 / 9) + math.log(3 / 5) + math.log(2 / 5)) / 3
    assert bi.nll(torch.tensor([0, 1, 0])) == pytest.approx(expected, abs=1e-12)
    assert bi.perplexity(torch.tensor([0, 1, 0])) == pytest.approx(math.exp(expected), abs=1e-12)
    assert perplexity(expected) == pytest.approx(math.exp(expected))


@settings(max_examples=40, deadline=None)
@given(data=st.lists(st.integers(0, 4), min_size=4, max_size=60), order=st.integers(1, 4),
       alpha=st.sampled_from([0.01, 0.5, 1.0, 3.0]), context=st.lists(st.integers(0, 4), max_size=5))
def test_probabilities_sum_to_one_for_every_context(data, order, alpha, context):
    lm = NGramLM(5, order, alpha).fit(torch.tensor(data))
    p = lm.probs(context)
    assert p.shape == (5,) and (p > 0).all()
    assert p.sum().item() == pytest.approx(1.0, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(train=st.lists(st.integers(0, 3), min_size=4, max_size=40), test=st.lists(st.integers(0, 3), min_size=1,
       max_size=20), order=st.integers(1, 4), alpha=st.sampled_from([0.0, 0.1, 1.0]))
def test_nll_equals_the_definition_token_by_token(train, test, order, alpha):
    lm = NGramLM(4, order, alpha).fit(torch.tensor(train))
    assert lm.nll(torch.tensor(test)) == pytest.approx(reference_nll(train, test, 4, order, alpha), abs=1e-9)


def test_nll_equals_pytorch_cross_entropy():
    g = torch.Generator().manual_seed(0)
    train, val = torch.randint(0, 7, (500,), generator=g), torch.randint(0, 7, (200,), generator=g)
    lm = NGramLM(7, order=2, alpha=0.5).fit(train)
    log_p = torch.stack([lm.probs([a]) for a in range(7)]).log()  # row a: log P(· | a)
    # cross_entropy takes logits; log-probabilities are logits whose softmax is the distribution itself
    ce = F.cross_entropy(log_p[val[:-1]], val[1:])
    first = -lm.probs([])[val[0]].log()
    assert lm.nll(val) == pytest.approx(((first + ce * (len(val) - 1)) / len(val)).item(), abs=1e-12)


def test_smoothing_keeps_unseen_pairs_and_contexts_finite():
    lm = NGramLM(3, order=2, alpha=1.0).fit(torch.tensor([0, 1, 0, 1, 0, 1]))  # c is never seen at all
    unseen = torch.tensor([0, 0, 2, 2, 1, 2])
    assert math.isfinite(lm.perplexity(unseen))
    assert torch.allclose(lm.probs([2]), torch.full((3,), 1 / 3, dtype=torch.float64))  # unseen context
    lm.alpha = 0.0
    assert lm.perplexity(unseen) == math.inf  # P(a | a) = 0 without smoothing
    assert lm.perplexity(torch.tensor([0, 1, 0])) < math.inf


def test_huge_alpha_gives_the_uniform_model_with_perplexity_V():
    lm = NGramLM(5, order=3, alpha=1e12).fit(torch.randint(0, 5, (100,)))
    assert lm.perplexity(torch.randint(0, 5, (50,))) == pytest.approx(5.0, rel=1e-6)


def test_lower_orders_equal_models_fitted_on_their_own():
    ids = torch.randint(0, 6, (2000,), generator=torch.Generator().manual_seed(1))
    big = NGramLM(6, order=5, alpha=0.3).fit(ids)
    for order in range(1, 6):
        alone = NGramLM(6, order=order, alpha=0.3).fit(ids)
        assert big.lower(order).nll(ids[:300]) == pytest.approx(alone.nll(ids[:300]), abs=1e-12)


@pytest.mark.parametrize("n_ids", [3000, 20000])  # short and long queries take different look-up paths
def test_dense_and_sparse_counting_and_lookups_agree(monkeypatch, n_ids):
    ids = torch.randint(0, 9, (n_ids,), generator=torch.Generator().manual_seed(2))
    dense = NGramLM(9, order=3, alpha=0.1).fit(ids)
    expected = dense.token_nll(ids)
    monkeypatch.setattr(ngram, "DENSE_LIMIT", 0)
    sparse = NGramLM(9, order=3, alpha=0.1).fit(ids)
    for a, b in zip(dense.tables, sparse.tables):
        assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(sparse.token_nll(ids), expected)
    assert torch.equal(sparse.probs([4, 2]), dense.probs([4, 2]))


def test_generate_follows_the_counts_and_is_reproducible():
    lm = NGramLM(3, order=3, alpha=0.0).fit(torch.tensor([0, 1, 2] * 10))
    assert lm.generate(7, seed=0, context=[0, 1]).tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2]
    # after "aa" comes b, after "a" alone a or b: a context shorter than order - 1 is used whole
    aab = NGramLM(2, order=4, alpha=0.0).fit(torch.tensor([0, 0, 1] * 10))
    assert {aab.generate(1, seed=s, context=[0, 0])[-1].item() for s in range(20)} == {1}
    noisy = NGramLM(3, order=2, alpha=1.0).fit(TINY)
    a, b = noisy.generate(50, seed=3), noisy.generate(50, seed=3)
    assert torch.equal(a, b) and len(a) == 50 and a.max() < 3
    assert not torch.equal(a, noisy.generate(50, seed=4))


def test_bigram_on_tiny_shakespeare():
    tok, train, val = encode_corpus("shakespeare")
    lm = NGramLM(tok.vocab_size, order=2).fit(train)
    assert lm.tables[1][1].sum().item() == len(train) - 1  # every pair counted once
    assert 11.0 < lm.perplexity(val) < 13.0                 # about 12 choices per character
    assert lm.perplexity(val) > lm.perplexity(train)


@pytest.mark.parametrize("make, error, match", [
    (lambda: NGramLM(0), ValueError, "vocab_size"),
    (lambda: NGramLM(5, order=0), ValueError, "order must be"),
    (lambda: NGramLM(6521, order=5), ValueError, "use order ≤ 4"),
    (lambda: NGramLM(5, alpha=-1), ValueError, "alpha must be"),
    (lambda: NGramLM(5).nll([1, 2]), RuntimeError, r"fit\(train_ids\) first"),
    (lambda: NGramLM(5, order=3).fit([1, 2]), ValueError, "at least 3 training tokens"),
    (lambda: NGramLM(5).fit(torch.zeros(2, 3, dtype=torch.long)), ValueError, "1-D tensor"),
    (lambda: NGramLM(5).fit(torch.rand(10)), ValueError, "integer token ids"),
    (lambda: NGramLM(5).fit([1, 2, 9]), ValueError, r"\[0, 5\), got \[9\]"),
    (lambda: NGramLM(5).fit(["a", "b"]), ValueError, "encode text with the tokenizer"),
    (lambda: NGramLM(5).fit([1, 2, 3]).nll([]), ValueError, "no tokens"),
    (lambda: NGramLM(5).fit([1, 2, 3]).lower(3), ValueError, "between 1 and 2"),
])
def test_clear_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()
