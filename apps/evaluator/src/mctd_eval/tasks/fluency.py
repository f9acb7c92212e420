"""Fluency of a completion: the mean log-probability of its tokens under the model, given the
prompt. Used by the keywords reward (texts re-encoded) and for perplexity (token ids as generated).

The work goes through ``lm.next_logprobs`` and is counted by the model like any other: inside a
search it is part of the search's NFE (with a prefix cache, positions the search already computed
cost nothing again).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mctd_tree.protocols import LanguageModel

FLOOR = -10.0


def token_logprobs(
    lm: LanguageModel, prompt_ids: Sequence[int], completions: Sequence[Sequence[int]]
) -> list[np.ndarray]:
    """log p(token_j | prompt, tokens_<j) for every completion, in one batched call."""
    prompt = tuple(int(t) for t in prompt_ids)
    prefixes = [prompt + tuple(c[:j]) for c in completions for j in range(len(c))]
    if not prefixes:
        return [np.zeros(0) for _ in completions]
    lp = np.asarray(lm.next_logprobs(prefixes))
    out, row = [], 0
    for c in completions:
        idx = np.arange(row, row + len(c))
        out.append(lp[idx, np.asarray(c, dtype=np.int64)].astype(np.float64))
        row += len(c)
    return out


def mean_logprob(lps: np.ndarray, floor: float = FLOOR) -> float:
    """Mean of ``lps`` clipped below at ``floor`` (``floor`` for an empty completion)."""
    return max(float(np.mean(lps)), floor) if len(lps) else floor
