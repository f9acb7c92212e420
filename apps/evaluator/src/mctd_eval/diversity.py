"""Diversity of the samples a method returns for one prompt (across samples, never within one).

- distinct-n (Li et al. 2016): distinct n-grams over all samples / total n-grams over all samples.
- pairwise dissimilarity: mean over sample pairs of 1 - Jaccard(G_i, G_j), where G is the set of a
  sample's token uni- and bi-grams; 0 when every sample is the same text, 1 when no two share a
  token. Duplicated samples count (a search that collapses onto one answer scores low).
Both work on token ids of the completion (EOS removed). At most ``max_samples`` samples are used
(the first ones, in the order the method produced them) to keep the pairwise term cheap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MAX_SAMPLES = 64


def ngrams(tokens: Sequence[int], n: int) -> list[tuple[int, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(samples: Sequence[Sequence[int]], n: int) -> float:
    """Distinct n-grams / total n-grams across ``samples`` (NaN when there is no n-gram)."""
    grams = [g for s in samples for g in ngrams(s, n)]
    return len(set(grams)) / len(grams) if grams else math.nan


def _gram_set(tokens: Sequence[int]) -> frozenset[tuple[int, ...]]:
    return frozenset(ngrams(tokens, 1)) | frozenset(ngrams(tokens, 2))


def pairwise_dissimilarity(samples: Sequence[Sequence[int]]) -> float:
    """Mean 1 - Jaccard of uni+bi-gram sets over all pairs (NaN for fewer than 2 samples)."""
    sets = [_gram_set(s) for s in samples]
    if len(sets) < 2:
        return math.nan
    total, pairs = 0.0, 0
    for i in range(len(sets)):
        for j in range(i + 1, len(sets)):
            a, b = sets[i], sets[j]
            union = len(a | b)
            total += 0.0 if union == 0 else 1.0 - len(a & b) / union
            pairs += 1
    return total / pairs


def diversity(samples: Sequence[Sequence[int]], max_samples: int = MAX_SAMPLES) -> dict[str, float]:
    """distinct_1, distinct_2 and dissimilarity of (the first ``max_samples``) samples."""
    use = [list(s) for s in samples[:max_samples]]
    return {
        "distinct_1": distinct_n(use, 1),
        "distinct_2": distinct_n(use, 2),
        "dissimilarity": pairwise_dissimilarity(use),
    }
