"""`TokenizerLM`: the `LanguageModel` surface a cached backend shares (tokenizer, limits, cache)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from mctd_tree.errors import UserError
from mctd_tree.lm.prefix_tree import CacheStats, PrefixTree, prefill_chunks
from mctd_tree.lm.validate import check_prefix, row_caps
from mctd_tree.problems.tokens import check_sampling
from mctd_tree.protocols import Counters


class TokenizerLM(ABC):
    """Protocol properties and text methods over a Hugging Face style ``tokenizer``.

    Subclasses set ``tokenizer``, ``cache``, ``counters``, ``prefill_tokens``, ``_eos``,
    ``_vocab`` and ``_max_context``, and implement ``_prefill``.
    """

    tokenizer: Any
    cache: PrefixTree[Any]
    counters: Counters
    _eos: frozenset[int]
    _vocab: int
    _max_context: int
    prefill_tokens: int

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return self._eos

    @property
    def vocab_size(self) -> int:
        return self._vocab

    @property
    def max_context(self) -> int:
        return self._max_context

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text))

    def decode(self, ids: Sequence[int]) -> str:
        """Text of token ``ids``; `UserError` naming an id outside ``[0, vocab_size)``."""
        out = [int(i) for i in ids]
        bad = [i for i in out if not 0 <= i < self._vocab]
        if bad:
            raise UserError(f"token id {bad[0]} is outside the vocabulary [0, {self._vocab})")
        return str(self.tokenizer.decode(out, skip_special_tokens=True))

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        out = self.tokenizer.apply_chat_template(
            list(messages), add_generation_prompt=True, tokenize=True
        )
        if hasattr(out, "keys") and "input_ids" in out:
            out = out["input_ids"]
        return [int(t) for t in out]

    def reset_counters(self) -> None:
        self.counters.reset()

    def clear_cache(self) -> None:
        """Drop every cached prefix (counters are kept)."""
        self.cache.clear()

    def cache_stats(self) -> CacheStats:
        return self.cache.stats()

    def _check_prefix(self, prefix: Sequence[int], generating: bool = False) -> tuple[int, ...]:
        return check_prefix(prefix, self._vocab, self._max_context, generating)

    @abstractmethod
    def _prefill(self, targets: Sequence[tuple[tuple[int, ...], object]]) -> None:
        """One forward call computing the uncached tail of every target; cache the results."""

    def _ensure(self, seqs: list[tuple[int, ...]], reads: int) -> None:
        """Compute and cache every position of ``seqs`` not cached yet, each exactly once, and
        count the ``reads`` distributions the caller takes of them: every one beyond one per
        distinct prefix whose last position this call computes (see `Counters`)."""
        fresh = {s for s in seqs if self.cache.match(s, touch=False).length < len(s)}
        for chunk in prefill_chunks(self.cache, seqs, self.prefill_tokens):
            self._prefill(chunk)
        extra = reads - len(fresh)
        self.counters.reads += extra
        self.counters.nfe += extra

    def _count_padding(self, padded: int) -> None:
        """Left-padding positions a ragged prefill computed: part of ``nfe``."""
        self.counters.padded += padded
        self.counters.nfe += padded

    def _start_generate(
        self,
        prefixes: Sequence[Sequence[int]],
        max_new_tokens: int | Sequence[int],
        temperature: float,
        top_k: int,
        top_p: float,
    ) -> tuple[list[tuple[int, ...]], list[int]]:
        """Check the arguments, cache every prefix; return the rows and their token caps."""
        check_sampling(temperature, top_k, top_p)
        rows = [self._check_prefix(p, generating=True) for p in prefixes]
        caps = row_caps(max_new_tokens, rows, self._max_context)
        if rows:
            self._ensure(rows, reads=len(rows))  # every row reads its first distribution
        return rows, caps
