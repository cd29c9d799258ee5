"""Solutions to notebook 10's exercises (from our GPT to GPT-2)."""

import math

import torch


def pair_counts(ids):
    counts = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def bits_per_char(nats_per_token, n_tokens, n_chars):
    return nats_per_token * n_tokens / n_chars / math.log(2)


def cached_attention(q, k_new, v_new, k_past, v_past):
    k, v = torch.cat([k_past, k_new], dim=2), torch.cat([v_past, v_new], dim=2)
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
    return weights @ v, k, v


SOLUTIONS = {"pair_counts": pair_counts, "merge": merge, "bits_per_char": bits_per_char,
             "cached_attention": cached_attention}


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


def _library_pair_counts(ids):
    from lmutils.bpe import pair_counts as library
    return dict(library(ids))


def _library_merge(ids, pair, new_id):
    from lmutils.bpe import merge as library
    return library(ids, pair, new_id)


def _attend_new_only(q, k_new, v_new, k_past, v_past):
    weights = (q @ k_new.transpose(-2, -1) / math.sqrt(q.size(-1))).softmax(-1)
    return weights @ v_new, torch.cat([k_past, k_new], 2), torch.cat([v_past, v_new], 2)


def _library_attention(q, k_new, v_new, k_past, v_past):
    k, v = torch.cat([k_past, k_new], dim=2), torch.cat([v_past, v_new], dim=2)
    return torch.nn.functional.scaled_dot_product_attention(q, k, v), k, v


WRONG = {
    "pair_counts": [_pair_counts_without_overlaps, _library_pair_counts,
                    lambda ids: {(a, b): 1 for a, b in zip(ids, ids[1:])}],        # seen, not counted
    "merge": [_merge_everywhere, _library_merge,
              lambda ids, pair, new_id: [new_id if i == pair[0] else i for i in ids if i != pair[1]]],
    "bits_per_char": [lambda n, t, c: n * t / c, lambda n, t, c: n / math.log(2),
                      lambda n, t, c: n * t / c * math.log(2), lambda n, t, c: n * c / t / math.log(2)],
    "cached_attention": [_attend_new_only, _library_attention,
                         lambda q, kn, vn, kp, vv: cached_attention(q, kn, vn, kp, vv)[:1] * 3,
                         lambda q, kn, vn, kp, vv: ((q @ torch.cat([kp, kn], 2).transpose(-2, -1)).softmax(-1)
                                                    @ torch.cat([vv, vn], 2), torch.cat([kp, kn], 2),
                                                    torch.cat([vv, vn], 2))],
}
