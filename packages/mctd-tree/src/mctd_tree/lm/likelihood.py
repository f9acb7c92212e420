"""Likelihood of completions under a `LanguageModel`: per-token log-probs given a prompt, and their
floored mean (the fluency / likelihood reward of the apps).

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
    """log p(token_j | prompt, tokens_<j) for every completion, in one batched call.

    A completion is cut where prompt + completion would exceed ``lm.max_context``.
    """
    prompt = tuple(int(t) for t in prompt_ids)
    room = max(lm.max_context - len(prompt), 0)
    comps = [tuple(int(t) for t in c)[:room] for c in completions]
    prefixes = [prompt + c[:j] for c in comps for j in range(len(c))]
    if not prefixes:
        return [np.zeros(0) for _ in comps]
    lp = np.asarray(lm.next_logprobs(prefixes))
    out, row = [], 0
    for c in comps:
        idx = np.arange(row, row + len(c))
        out.append(lp[idx, np.asarray(c, dtype=np.int64)].astype(np.float64))
        row += len(c)
    return out


def mean_logprob(lps: np.ndarray, floor: float = FLOOR) -> float:
    """Mean of ``lps`` clipped below at ``floor`` (``floor`` for an empty completion)."""
    return max(float(np.mean(lps)), floor) if len(lps) else floor


class LikelihoodReward:
    """Mean token log-prob of each completion text (re-encoded) after ``prompt_ids``, floored."""

    def __init__(self, lm: LanguageModel, prompt_ids: Sequence[int], floor: float = FLOOR) -> None:
        self.lm, self.prompt, self.floor = lm, tuple(int(t) for t in prompt_ids), floor

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        ids = [self.lm.encode(t) for t in texts]
        lps = token_logprobs(self.lm, self.prompt, ids)
        return np.asarray([mean_logprob(lp, self.floor) for lp in lps], dtype=np.float64)
