"""Solutions to notebook 10's exercises (from our GPT to GPT-2)."""

import math

import torch


def pair_counts(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):                  # every position, overlaps included
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2                                  # a token belongs to one merge only
        else:
            out.append(ids[i])
            i += 1
    return out


def bits_per_char(nats_per_token, n_tokens, n_chars):
    return nats_per_token * n_tokens / n_chars / math.log(2)


def cached_attention(q, k_new, v_new, k_past, v_past):
    k, v = torch.cat([k_past, k_new], dim=2), torch.cat([v_past, v_new], dim=2)
    T_new, T_past = q.size(2), k_past.size(2)
    allowed = torch.arange(T_past + T_new) <= T_past + torch.arange(T_new)[:, None]   # new token i is at T_past + i
    scores = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~allowed, float("-inf"))
    return scores.softmax(-1) @ v, k, v


# found by trying 0, 64, 256, 512, 1024 merges with α = 0.01, 0.1, 1: 512 merges, α = 0.1 did best
bpe_bigram = dict(merges=512, alpha=0.1)

SOLUTIONS = {"pair_counts": pair_counts, "merge": merge, "bits_per_char": bits_per_char,
             "cached_attention": cached_attention, "bpe_bigram": bpe_bigram}


def _pair_counts_without_overlaps(ids):
    counts, i = {}, 0
    while i < len(ids) - 1:
        pair = (ids[i], ids[i + 1])
        counts[pair] = counts.get(pair, 0) + 1
        i += 2 if pair[0] == pair[1] else 1
    return counts


def _merge_everywhere(ids, pair, new_id):  # merges overlapping pairs twice
    out = [new_id if (a, b) == pair else a for a, b in zip(ids, ids[1:])]
    return out + ids[-1:] if ids and (len(ids) < 2 or (ids[-2], ids[-1]) != pair) else out


def _attend_without_mask(q, k_new, v_new, k_past, v_past):   # right for one new token only
    k, v = torch.cat([k_past, k_new], 2), torch.cat([v_past, v_new], 2)
    return (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1) @ v, k, v


def _attend_top_left(q, k_new, v_new, k_past, v_past):       # is_causal=True's mask: lined up with the first key
    k, v = torch.cat([k_past, k_new], 2), torch.cat([v_past, v_new], 2)
    mask = torch.ones(q.size(2), k.size(2), dtype=torch.bool).tril()
    S = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))
    return S.softmax(-1) @ v, k, v


WRONG = {
    "pair_counts": [(_pair_counts_without_overlaps, "overlaps included"),
                    (lambda ids: {(a, b): 1 for a, b in zip(ids, ids[1:])}, "overlaps included"),
                    (lambda ids: {k: 2 * v for k, v in pair_counts(ids).items()}, "the counts should be",
                     "for a, b in zip(ids, __)"),
                    (lambda ids: [(a, b) for a, b in zip(ids, ids[1:])], "return a dict")],
    "merge": [(_merge_everywhere, "should give"),
              (lambda ids, pair, new_id: [new_id if i == pair[0] else i for i in ids if i != pair[1]], "should give",
               "out.append(__)"),
              (lambda ids, pair, new_id: ids, "should give")],
    "bits_per_char": [(lambda n, t, c: n * t / c, "nats per character"),
                      (lambda n, t, c: n / math.log(2), "bits per token"),
                      (lambda n, t, c: n * t / c * math.log(2), "divide by ln 2"),
                      (lambda n, t, c: n * c / t / math.log(2), "upside down"),
                      (lambda n, t, c: n * t, "the text's total", "/ math.log(__)")],
    "cached_attention": [(_attend_without_mask, "see the new tokens after them"),
                         (_attend_top_left, "attends to keys 0 … i only", "allowed = torch.arange(T_past + T_new)"),
                         (lambda q, kn, vn, kp, vp: cached_attention(q, kn, vn, kp, vp)[:1] * 3, "cache grows"),
                         (lambda q, kn, vn, kp, vp: cached_attention(q, kn, vn, kp, vp)[:2], "three tensors"),
                         (lambda q, kn, vn, kp, vp: (cached_attention(q, kn, vn, kp, vp)[0], torch.cat([kn, kp], 2),
                                                     torch.cat([vn, vp], 2)), "after the past ones")],
    "bpe_bigram": [(dict(merges=0, alpha=1.0), "not yet"), (dict(merges=64, alpha=0.1), "not yet"),
                   (dict(merges=4096, alpha=0.1), "from 0 to 1,024"), (512, "two keys")],
}
