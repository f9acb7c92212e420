"""`TokenizerLM`: the `LanguageModel` a cached backend shares (tokenizer, limits, cache, loops).

``next_logprobs`` and ``generate`` are written once here: a backend supplies only its array
operations (``_prefill``: compute and cache uncached positions; ``_cached_logprobs``: read the
distributions after cached prefixes; ``_decode_batch``: assemble a `DecodeBatch` for
`decode_steps`) and, for torch, the ``_inference`` context.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from mctd_tree.errors import UserError
from mctd_tree.lm.decode import DecodeBatch, decode_steps
from mctd_tree.lm.prefix_tree import CacheStats, PrefixTree, prefill_chunks
from mctd_tree.lm.sampling import check_sampling
from mctd_tree.lm.stopping import Rows
from mctd_tree.lm.validate import check_prefix, row_caps
from mctd_tree.protocols import Counters, Generation


class TokenizerLM(ABC):
    """The `LanguageModel` protocol over a Hugging Face style ``tokenizer`` and a prefix tree.

    Subclasses set ``tokenizer``, ``cache``, ``counters``, ``prefill_tokens``, ``_eos``,
    ``_vocab`` and ``_max_context``, and implement ``_prefill``, ``_cached_logprobs`` and
    ``_decode_batch``.
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

    # ------------------------------------------------------------------ protocol
    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """Next-token log-probs (B, V) float32; computes only positions not cached before."""
        with self._inference():
            rows = [self._check_prefix(p) for p in prefixes]
            if not rows:
                return np.zeros((0, self._vocab), np.float32)
            distinct = list(dict.fromkeys(rows))
            self._ensure(rows, reads=len(distinct))
            lp = self._cached_logprobs(distinct)
            where = {p: i for i, p in enumerate(distinct)}
            out = lp[[where[p] for p in rows]]
            self.cache.evict()
            return out

    def generate(
        self,
        prefixes: Sequence[Sequence[int]],
        rng: np.random.Generator,
        *,
        max_new_tokens: int | Sequence[int],
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """Batched sampling from each prefix with per-row stop (EOS, a stop string, the length).

        One `decode_steps` loop over the backend's `DecodeBatch`: the shared sampling rule (one
        uniform per active row per step); log-probs are the raw model ones (temperature 1), and
        the token that completes a stop string is kept. Generated positions are cached.
        """
        with self._inference():
            rows, caps = self._start_generate(prefixes, max_new_tokens, temperature, top_k, top_p)
            if not rows:
                return []
            out = Rows(caps, self._eos, stop, self.decode)
            batch, lp = self._decode_batch(rows, max(caps))
            steps = decode_steps(
                batch,
                lp,
                out,
                rng,
                self.counters,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
            )
            for _ in steps:
                pass
            self.cache.evict()
            return out.results()

    # ------------------------------------------------------------- backend operations
    def _inference(self) -> contextlib.AbstractContextManager[Any]:
        """The context the model runs in (torch: ``torch.inference_mode()``)."""
        return contextlib.nullcontext()

    @abstractmethod
    def _prefill(self, targets: Sequence[tuple[tuple[int, ...], object]]) -> None:
        """One forward call computing the uncached tail of every target; cache the results."""

    @abstractmethod
    def _cached_logprobs(self, prefixes: Sequence[tuple[int, ...]]) -> np.ndarray:
        """Next-token log-probs (B, V) float32 after each fully cached prefix (head only)."""

    @abstractmethod
    def _decode_batch(
        self, rows: list[tuple[int, ...]], steps: int
    ) -> tuple[DecodeBatch, np.ndarray]:
        """A `DecodeBatch` over the cached ``rows`` with room for ``steps`` generated tokens,
        and the next-token log-probs after each row (B, V)."""

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
