"""The search reward's own model work, metered apart from the search's generation work.

A task's reward may run the model (keywords' fluency, the prompts file's ``likelihood``).
`MeteredReward` wraps it: the model work of each call (the model's counters before and after) is
moved out of the model's counters into the wrapper's ``used``, so a search's NFE budget and the
row's ``nfe`` / ``calls`` are its generation work (proposals, sampling, rollouts) on every backend
alike, and the row reports the scoring apart (``reward_nfe``, ``reward_calls``; ``reward_flops``
for backends that count FLOPs). Scoring a completion's log-likelihood is nearly free for an AR
model (its positions are read from the prefix cache) but costs a masked-diffusion LM a window of
positions per token (no prefix cache); charged to the budget, it would compare the two at unequal
generation work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from mctd_tree.protocols import Counters, Reward

from mctd_eval.backends import flops_total


class MeteredReward:
    """``reward`` with its model work on ``lm`` moved from ``lm.counters`` into ``used`` (and its
    FLOPs, for backends that count them, into ``flops``)."""

    def __init__(self, reward: Reward[str], lm: Any) -> None:
        self.reward, self.lm = reward, lm
        self.used = Counters()
        self.flops: int | None = 0 if flops_total(lm) is not None else None

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        counters: Counters = self.lm.counters
        start, f0 = counters.snapshot(), flops_total(self.lm)
        try:
            return np.asarray(self.reward(texts))
        finally:
            spent = counters.since(start)
            for name in ("nfe", "calls", "padded", "reads"):
                setattr(counters, name, getattr(counters, name) - getattr(spent, name))
                setattr(self.used, name, getattr(self.used, name) + getattr(spent, name))
            f1 = flops_total(self.lm)
            if self.flops is not None and f0 is not None and f1 is not None:
                self.flops += f1 - f0
