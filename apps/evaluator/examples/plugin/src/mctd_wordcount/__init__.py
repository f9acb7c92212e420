"""``wordcount``: write one sentence of exactly N words (N seeded per instance).

Reward (truth-free; N is in the prompt): 1 - |words - N| / N, floored at 0. Success: exactly N.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mctd_eval.tasks.base import Instance, TaskBase


def closeness(text: str, n: int) -> float:
    return max(0.0, 1.0 - abs(len(text.split()) - n) / n)


@dataclass(frozen=True)
class WordCountTask(TaskBase):
    name: ClassVar[str] = "wordcount"
    description: ClassVar[str] = "one sentence of exactly N words; reward 1 - |words - N| / N"
    metric_names: ClassVar[tuple[str, ...]] = ("words",)

    lo: int = 4
    hi: int = 9
    max_tokens: int = 24

    def instances(self, n: int) -> list[Instance]:
        out = []
        for i in range(n):
            k = int(np.random.default_rng([self.seed, i]).integers(self.lo, self.hi + 1))
            out.append(Instance(i, f"{k} words", k, k))
        return out

    def max_new_tokens(self, public: Any) -> int:
        return self.max_tokens

    def prompt_ids(self, lm: Any, public: int) -> list[int]:
        text = f"Write one sentence of exactly {public} words."
        return lm.chat_prompt([{"role": "user", "content": text}])

    def search_reward(
        self, lm: Any, prompt_ids: Sequence[int], public: int, *, verifier: Any = None
    ) -> Any:
        return lambda texts: np.array([closeness(t, public) for t in texts])

    def evaluate(self, text: str, public: int, truth: int) -> dict[str, float]:
        words = len(text.split())
        return {"words": float(words), "success": float(words == truth)}
