"""Counting n-gram language models with add-alpha smoothing: the baseline every later model must beat.

An order-n model predicts the next token w from the n − 1 tokens before it, its context c:

    P(w | c) = (N(c, w) + alpha) / (N(c) + alpha * V)

N(c, w) is how often c was followed by w in the training ids, N(c) = Σ_w N(c, w), V the vocabulary size.
order=1 is the unigram model (empty context), 2 the bigram, 3 the trigram, ... alpha=0 is plain counting
(maximum likelihood); alpha=1 is Laplace's add-one.

    lm = NGramLM(tok.vocab_size, order=3, alpha=0.1).fit(train_ids)
    lm.nll(val_ids), lm.perplexity(val_ids), lm.probs(context), lm.generate(200, seed=0, context=ids)

How the first tokens are scored: the token at position t < n − 1 of a sequence has only t tokens before it,
so it is scored with the context it has, by the lower-order model (position 0 by the unigram model). The
model keeps the counts of every context length 0 … n − 1 for this, so nll(ids) is a mean over every token
of ids, each counted once. (A neural model scored by lmutils.train.evaluate starts at position 1: on a
validation split of 100,000 tokens the difference is at most a few tokens.)

A context never seen in training gets the uniform distribution 1/V: that is what add-alpha gives when
N(c) = 0, and with alpha = 0 it is our convention (0/0 says nothing). With alpha = 0, a seen context followed
by a token it never was followed by in training gets probability 0: infinite NLL and perplexity.

Counting is vectorised: the n-gram (c_1 … c_{n−1}, w) is numbered exactly by the key
((c_1 V + c_2) V + …) V + w, and the keys are counted with torch.bincount (small tables) or sort + unique
(large ones). Only the n-grams that occur are stored, sorted by key; lookups are binary searches.
"""

import math

import torch

DENSE_LIMIT = 2 ** 22  # count with bincount (fast) when V ** n keys fit in 4M bins, else sort + unique
MAX_KEY = 2 ** 62      # keys are int64


def perplexity(nll: float) -> float:
    """Perplexity from the mean negative log-likelihood per token in nats: exp(nll)."""
    return math.exp(nll)


class NGramLM:
    """A counting n-gram language model over token ids 0 … vocab_size − 1, with add-alpha smoothing.

    alpha is read when the model is used, so it can be changed after fit without counting again.
    """

    def __init__(self, vocab_size: int, order: int = 2, alpha: float = 1.0):
        if not isinstance(vocab_size, int) or vocab_size < 1:
            raise ValueError(f"vocab_size must be a positive integer, got {vocab_size!r}")
        if not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be an integer ≥ 1 (1 = unigram, 2 = bigram, …), got {order!r}")
        if vocab_size ** order >= MAX_KEY:
            top = 1
            while vocab_size ** (top + 1) < MAX_KEY:
                top += 1
            raise ValueError(f"order {order} is too high for a vocabulary of {vocab_size}: its n-grams cannot be "
                             f"numbered in 64 bits; use order ≤ {top}")
        self.vocab_size, self.order = vocab_size, order
        self.alpha = alpha
        self.tables = None  # tables[k], contexts of k tokens: (n-gram keys, counts, context keys, counts), sorted
        self.n_train = 0

    @property
    def alpha(self) -> float:
        return self._alpha

    @alpha.setter
    def alpha(self, value: float) -> None:
        if not isinstance(value, (int, float)) or not value >= 0 or math.isinf(value):
            raise ValueError(f"alpha must be a number ≥ 0 (0 = no smoothing), got {value!r}")
        self._alpha = float(value)

    def __repr__(self) -> str:
        fitted = f", fitted on {self.n_train:,} tokens" if self.tables else ", not fitted"
        return f"NGramLM(vocab_size={self.vocab_size}, order={self.order}, alpha={self.alpha:g}{fitted})"

    # --- counting --------------------------------------------------------------------------------
    def fit(self, ids) -> "NGramLM":
        """Count every (context, next token) pair of a 1-D tensor of training ids, for contexts of
        0 … order − 1 tokens. Returns self."""
        ids = self._check_ids(ids, "the training ids")
        if len(ids) < self.order:
            raise ValueError(f"an order-{self.order} model needs at least {self.order} training tokens, "
                             f"got {len(ids)}")
        V = self.vocab_size
        self.tables = []
        for k in range(self.order):
            keys, counts = _count(self._keys(ids, k), V ** (k + 1))
            contexts, inverse = torch.unique_consecutive(keys // V, return_inverse=True)  # keys are sorted
            context_counts = torch.zeros(len(contexts), dtype=torch.long).index_add_(0, inverse, counts)
            self.tables.append((keys, counts, contexts, context_counts))
        self.n_train = len(ids)
        return self

    def distinct(self) -> list[int]:
        """How many distinct n-grams the training ids hold, for n = 1 … order."""
        self._check_fitted()
        return [len(keys) for keys, *_ in self.tables]

    def lower(self, order: int) -> "NGramLM":
        """The order-`order` model (order ≤ self.order) from the same counts, without counting again."""
        self._check_fitted()
        if not 1 <= order <= self.order:
            raise ValueError(f"order must be between 1 and {self.order}, got {order}")
        lm = NGramLM(self.vocab_size, order, self.alpha)
        lm.tables, lm.n_train = self.tables[:order], self.n_train
        return lm

    def _keys(self, ids: torch.Tensor, k: int) -> torch.Tensor:
        """The key of (ids[t − k], …, ids[t]) for every t ≥ k."""
        n = len(ids) - k
        key = ids[:n].clone()
        for j in range(1, k + 1):
            key = key * self.vocab_size + ids[j:j + n]
        return key

    # --- scoring ---------------------------------------------------------------------------------
    def token_counts(self, ids):
        """(N(c, w), N(c)) for every token w of ids with its context c (see the module's note on the first
        tokens), as two float64 tensors of len(ids)."""
        ids = self._check_ids(ids, "the ids to score")
        self._check_fitted()
        pair = torch.zeros(len(ids), dtype=torch.float64)
        context = torch.zeros(len(ids), dtype=torch.float64)
        for k in range(min(self.order, len(ids))):
            full = k == self.order - 1  # positions t ≥ order − 1 all have the full context
            stop = len(ids) if full else k + 1
            keys, where = self._keys(ids[:stop], k), torch.arange(k, stop)
            if len(keys) > 4096 and self.vocab_size ** (k + 1) > DENSE_LIMIT:  # binary searches: faster sorted
                keys, order = torch.sort(keys)
                where = where[order]
            pair_keys, pair_counts, ctx_keys, ctx_counts = self.tables[k]
            pair[where] = _lookup(pair_keys, pair_counts, keys, self.vocab_size ** (k + 1)).double()
            context[where] = _lookup(ctx_keys, ctx_counts, keys // self.vocab_size, self.vocab_size ** k).double()
        return pair, context

    def smoothed_log_probs(self, pair: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """log P(w | c) = log(N(c, w) + alpha) − log(N(c) + alpha V) from the counts token_counts gives
        (−log V where N(c) = 0). The counts do not depend on alpha: look them up once, smooth many times."""
        a, V = self.alpha, self.vocab_size
        logp = torch.log(pair + a) - torch.log(context + a * V)
        return torch.where(context > 0, logp, -math.log(V))

    def token_nll(self, ids) -> torch.Tensor:
        """−log P(w | c) in nats for every token of ids (float64)."""
        return -self.smoothed_log_probs(*self.token_counts(ids))

    def nll(self, ids) -> float:
        """Mean negative log-likelihood per token, in nats, over every token of ids."""
        return self.token_nll(ids).mean().item()

    def perplexity(self, ids) -> float:
        """exp(mean negative log-likelihood per token)."""
        return perplexity(self.nll(ids))

    # --- distributions and sampling --------------------------------------------------------------
    def counts(self, context=()) -> torch.Tensor:
        """N(c, w) for every next token w (a LongTensor of vocab_size) after the last order − 1 tokens of
        context (fewer if context is shorter)."""
        self._check_fitted()
        c = self._check_ids(context, "the context", allow_empty=True)
        k = min(len(c), self.order - 1)
        c = c[len(c) - k:]
        base = self._keys(c, k - 1)[0] if k else torch.tensor(0)
        pair_keys, pair_counts = self.tables[k][:2]
        return _lookup(pair_keys, pair_counts, base * self.vocab_size + torch.arange(self.vocab_size),
                       self.vocab_size ** (k + 1))

    def probs(self, context=()) -> torch.Tensor:
        """The next-token distribution P(· | context) (float64, sums to 1), from the last order − 1 tokens
        of context (or the lower-order model when context is shorter)."""
        n = self.counts(context).double()
        total = n.sum()
        if total == 0:  # a context never seen in training
            return torch.full((self.vocab_size,), 1 / self.vocab_size, dtype=torch.float64)
        return (n + self.alpha) / (total + self.alpha * self.vocab_size)

    def generate(self, n: int, seed: int | None = 0, context=()) -> torch.Tensor:
        """context followed by n sampled tokens, as a 1-D LongTensor (decode it with the tokenizer)."""
        out = self._check_ids(context, "the context", allow_empty=True).tolist()
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        k = self.order - 1
        for _ in range(n):
            p = self.probs(out[max(0, len(out) - k):] if k else [])
            out.append(torch.multinomial(p, 1, generator=g).item())
        return torch.tensor(out, dtype=torch.long)

    # --- checks ----------------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if self.tables is None:
            raise RuntimeError("this NGramLM has not counted anything yet: call lm.fit(train_ids) first")

    def _check_ids(self, ids, what: str, allow_empty: bool = False) -> torch.Tensor:
        if not torch.is_tensor(ids):
            ids = list(ids)
            try:
                ids = torch.tensor(ids) if ids else torch.zeros(0, dtype=torch.long)
            except (TypeError, ValueError, RuntimeError):
                raise ValueError(f"{what}: expected token ids (integers), got {ids[:5]}: encode text with the "
                                 "tokenizer first") from None
        if ids.dim() != 1 or ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"{what}: expected a 1-D tensor of integer token ids, got shape {tuple(ids.shape)} "
                             f"and dtype {ids.dtype}")
        if not len(ids) and not allow_empty:
            raise ValueError(f"{what}: got no tokens")
        ids = ids.long().cpu()
        if len(ids) and (ids.min() < 0 or ids.max() >= self.vocab_size):
            bad = ids[(ids < 0) | (ids >= self.vocab_size)][:5].tolist()
            raise ValueError(f"{what}: token ids must be in [0, {self.vocab_size}), got {bad}: was this model "
                             "built with the tokenizer's vocab_size?")
        return ids


def _count(keys: torch.Tensor, n_keys: int):
    """The distinct keys (sorted) and how often each occurs."""
    if n_keys <= DENSE_LIMIT:
        counts = torch.bincount(keys, minlength=n_keys)
        present = counts.nonzero().squeeze(1)
        return present, counts[present]
    return torch.unique(keys, sorted=True, return_counts=True)


def _lookup(sorted_keys: torch.Tensor, values: torch.Tensor, query: torch.Tensor, n_keys: int) -> torch.Tensor:
    """values[i] where sorted_keys[i] == query, 0 where the query is not among the keys; n_keys: how many
    keys there could be."""
    if n_keys <= DENSE_LIMIT and 8 * len(query) >= n_keys:  # many queries, few possible keys: a full table
        table = torch.zeros(n_keys, dtype=values.dtype)
        table[sorted_keys] = values
        return table[query]
    i = torch.searchsorted(sorted_keys, query).clamp(max=len(sorted_keys) - 1)
    return torch.where(sorted_keys[i] == query, values[i], 0)


# The counting baselines of notebook 03, each order with the smoothing that 03 found best on validation.
BASELINE_ALPHAS = {"unigram": (1, 1.0), "bigram": (2, 1.0), "trigram": (3, 0.1), "5-gram": (5, 0.03)}


def baselines(vocab_size: int, train_ids: torch.Tensor, val_ids: torch.Tensor) -> dict:
    """Validation loss (nats per token) of notebook 03's counting models, unigram to 5-gram: the levels every
    later language model is measured against. A second or so on a CPU."""
    counts = NGramLM(vocab_size, order=5).fit(train_ids)  # counts every order up to 5 at once
    table = {}
    for name, (order, alpha) in BASELINE_ALPHAS.items():
        lm = counts.lower(order)
        lm.alpha = alpha
        table[name] = lm.nll(val_ids)
    return table
