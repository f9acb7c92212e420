"""`WrappedLM`: the `LanguageModel` surface of a wrapped model, with counters of its own."""

from __future__ import annotations

from collections.abc import Sequence

from mctd_tree.protocols import Counters, LanguageModel


class WrappedLM:
    """Delegates tokens, vocabulary and context to ``self.lm``; counts its own work."""

    def __init__(self, lm: LanguageModel) -> None:
        self.lm = lm
        self.counters = Counters()

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self.lm.eos_token_ids

    @property
    def vocab_size(self) -> int:
        return self.lm.vocab_size

    @property
    def max_context(self) -> int:
        return self.lm.max_context

    def encode(self, text: str) -> list[int]:
        return self.lm.encode(text)

    def decode(self, ids: Sequence[int]) -> str:
        return self.lm.decode(ids)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return self.lm.chat_prompt(messages)

    def reset_counters(self) -> None:
        self.counters.reset()
