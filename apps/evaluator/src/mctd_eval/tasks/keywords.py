"""``keywords``: "write one sentence using the words ..." with seeded word sets.

Instance i draws ``words`` distinct words from a fixed list of common words with
``default_rng([seed, i])``. The prompt asks, under the chat template, for one sentence using them.

Search reward (truth-free; the words are part of the prompt): coverage + fluency_weight *
fluency, where coverage is the fraction of the words that appear (case-insensitive, as a word
start, so "dogs" counts for "dog") and fluency is the mean token log-probability of the completion
under the model given the prompt (the text re-encoded; clipped at -10).
Evaluation: coverage, fluency; success = every word used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mctd_tree.protocols import LanguageModel

from mctd_eval.tasks.base import Instance, TaskBase
from mctd_eval.tasks.fluency import mean_logprob, token_logprobs

_WORD_TEXT = (
    "apple bird boat bread bridge candle cat chair cloud coffee dog door dream fire flower "
    "forest garden glass gold hand happy heart horse house ice island key lamp letter light "
    "moon mountain music night ocean paper piano rain red river road rock rope sand school sea "
    "shadow ship sky snow song stone storm street sun table tea tree train wall water wind "
    "window winter wood"
)
WORDS = tuple(_WORD_TEXT.split())


def coverage(text: str, words: Sequence[str]) -> float:
    """Fraction of ``words`` that start a word of ``text`` (case-insensitive)."""
    low = text.lower()
    hits = sum(bool(re.search(rf"\b{re.escape(w.lower())}", low)) for w in words)
    return hits / len(words)


class KeywordsReward:
    """Batched truth-free reward: coverage + fluency_weight * mean token log-prob."""

    def __init__(
        self, lm: LanguageModel, prompt_ids: Sequence[int], words: Sequence[str], weight: float
    ) -> None:
        self.lm, self.prompt, self.words, self.weight = lm, list(prompt_ids), tuple(words), weight

    def fluency(self, texts: Sequence[str]) -> np.ndarray:
        ids = [self.lm.encode(t) for t in texts]
        return np.array([mean_logprob(lp) for lp in token_logprobs(self.lm, self.prompt, ids)])

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        cov = np.array([coverage(t, self.words) for t in texts])
        return cov + self.weight * self.fluency(texts) if self.weight else cov


@dataclass(frozen=True)
class KeywordsTask(TaskBase):
    name: ClassVar[str] = "keywords"
    description: ClassVar[str] = (
        "Write one sentence using seeded word sets; reward = keyword coverage + fluency_weight * "
        "mean token log-prob (truth-free); success = all words used."
    )
    metric_names: ClassVar[tuple[str, ...]] = ("coverage",)

    words: int = 3
    fluency_weight: float = 0.1
    max_tokens: int = 32

    def __post_init__(self) -> None:
        if not 1 <= self.words <= len(WORDS):
            raise ValueError(f"keywords words must be in 1..{len(WORDS)}, got {self.words}")
        if self.max_tokens < 1 or self.fluency_weight < 0:
            raise ValueError("keywords max_tokens must be >= 1 and fluency_weight >= 0")

    def instances(self, n: int) -> list[Instance]:
        out = []
        for i in range(n):
            rng = np.random.default_rng([self.seed, i])
            ws = tuple(WORDS[j] for j in rng.choice(len(WORDS), self.words, replace=False))
            out.append(Instance(i, "+".join(ws), ws, ws))
        return out

    def max_new_tokens(self, public: Any) -> int:
        return self.max_tokens

    def prompt_ids(self, lm: LanguageModel, public: tuple[str, ...]) -> list[int]:
        text = f"Write one sentence using the words: {', '.join(public)}."
        return lm.chat_prompt([{"role": "user", "content": text}])

    def search_reward(
        self, lm: LanguageModel, prompt_ids: Sequence[int], public: Any, *, verifier: Any = None
    ) -> KeywordsReward:
        return KeywordsReward(lm, prompt_ids, public, self.fluency_weight)

    def evaluate(self, text: str, public: Any, truth: tuple[str, ...]) -> dict[str, float]:
        cov = coverage(text, truth)
        return {"success": float(cov == 1.0), "coverage": cov}
