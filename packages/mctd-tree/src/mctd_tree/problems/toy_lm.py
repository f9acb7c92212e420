"""A tiny numpy language model implementing `LanguageModel`, for tests and examples.

The next-token distribution is a fixed random table indexed by the last two tokens (a trigram
model), so it is exact, fast and reproducible. It counts its work exactly as the cached backends
(mctd-llm-torch, mctd-llm-mlx) do (``cache=True``): uncached positions are prefilled once, in the
same ragged chunks (`prefill_chunks`, left-padding counted in ``nfe`` and ``padded``); a
distribution read from a cached position with no position computed for it counts one (``reads``);
``generate`` feeds every generated token except the last, one position per active row per step.
With ``cache=False`` (the naive re-encoding model) every needed prefix is computed in full every
time. ``generate`` runs the shared decode loop (`decode_steps`, with the shared sampling rule).

Token 0 is EOS; tokens 1.. decode to the letters ``a``, ``b``, ... (so ``vocab_size <= 27``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mctd_tree.lm.decode import decode_steps
from mctd_tree.lm.prefix_tree import PrefixTree, prefill_chunks
from mctd_tree.lm.sampling import check_sampling
from mctd_tree.lm.stopping import Rows
from mctd_tree.lm.validate import row_caps
from mctd_tree.protocols import Counters, Generation


class _Positions(PrefixTree[None]):
    """The positions a cached backend would hold (no payloads, no eviction)."""

    def __init__(self) -> None:
        super().__init__(max_positions=1 << 62)

    def _slice(self, payload: None, start: int, stop: int | None) -> None:
        return None


class ToyLM:
    """A seeded random trigram model over letters, with honest position counters."""

    def __init__(
        self,
        vocab_size: int = 8,
        *,
        seed: int = 0,
        max_context: int = 512,
        eos_bias: float = 0.0,
        sharpness: float = 2.0,
        cache: bool = True,
        prefill_tokens: int = 8192,
    ) -> None:
        if not 2 <= vocab_size <= 27:
            raise ValueError(f"ToyLM vocab_size must be in [2, 27], got {vocab_size}")
        rng = np.random.default_rng(seed)
        logits = sharpness * rng.normal(size=(vocab_size, vocab_size, vocab_size))
        logits[..., 0] += eos_bias
        self._table = (logits - np.logaddexp.reduce(logits, axis=-1, keepdims=True)).astype(
            np.float32
        )
        self._vocab = vocab_size
        self._max_context = max_context
        self.cache = cache
        self.prefill_tokens = prefill_tokens
        self._seen = _Positions()
        self.counters = Counters()

    # ---------------------------------------------------------------- protocol
    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({0})

    @property
    def vocab_size(self) -> int:
        return self._vocab

    @property
    def max_context(self) -> int:
        return self._max_context

    def encode(self, text: str) -> list[int]:
        ids = [ord(c) - ord("a") + 1 for c in text.lower() if "a" <= c <= "z"]
        return [i for i in ids if 0 < i < self._vocab]

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(chr(ord("a") + int(i) - 1) for i in ids if int(i) != 0)

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return self.encode(" ".join(m["content"] for m in messages))

    def reset_counters(self) -> None:
        self.counters.reset()

    def clear_cache(self) -> None:
        """Forget every computed prefix, as a backend's cache eviction would."""
        self._seen.clear()

    def logprobs_of(self, prefix: Sequence[int]) -> np.ndarray:
        """Exact next-token log-probs of one prefix, without counting (for tests)."""
        a = int(prefix[-2]) if len(prefix) >= 2 else 0
        return self._table[a, int(prefix[-1])]

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        rows = [self._check(p) for p in prefixes]
        self._prefill(rows, reads=len(set(rows)))
        out = np.stack([self.logprobs_of(p) for p in rows]) if rows else np.zeros((0, self._vocab))
        return out.astype(np.float32)

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
        check_sampling(temperature, top_k, top_p)
        rows = [self._check(p) for p in prefixes]
        caps = row_caps(max_new_tokens, rows, self._max_context)
        self._prefill(rows, reads=len(rows))
        if not rows:
            return []
        out = Rows(caps, self.eos_token_ids, stop, self.decode, window=False)
        lp = np.stack([self.logprobs_of(r) for r in rows])
        batch = _ToyBatch(self, rows, out.toks)
        steps = decode_steps(
            batch, lp, out, rng, self.counters, temperature=temperature, top_k=top_k, top_p=top_p
        )
        for _ in steps:
            pass
        return out.results()

    # ---------------------------------------------------------------- helpers
    def _check(self, prefix: Sequence[int]) -> tuple[int, ...]:
        p = tuple(int(t) for t in prefix)
        if not p:
            raise ValueError("empty prompt: a prefix needs at least one token")
        if len(p) > self._max_context:
            raise ValueError(
                f"prefix of {len(p)} tokens exceeds the model's context of {self._max_context}"
            )
        if min(p) < 0 or max(p) >= self._vocab:
            raise ValueError(f"token ids must be in [0, {self._vocab})")
        return p

    def _charge(self, positions: int, padded: int = 0) -> None:
        """Count one prefill call computing ``positions`` (+ ``padded``) positions."""
        self.counters.nfe += positions + padded
        self.counters.padded += padded
        self.counters.calls += 1

    def _prefill(self, seqs: list[tuple[int, ...]], reads: int) -> None:
        """Count the forward calls computing every uncached position of ``seqs`` (ragged chunks,
        left-padded as a backend lays them out), then the ``reads`` distributions taken."""
        if not seqs:
            return
        if not self.cache:
            self._charge(sum(len(s) for s in seqs))
            return
        seen = self._seen
        fresh = {s for s in seqs if seen.match(s, touch=False).length < len(s)}
        for chunk in prefill_chunks(seen, seqs, self.prefill_tokens):
            matches = [seen.match(s) for s, _ in chunk]
            news = [len(s) - m.length for (s, _), m in zip(chunk, matches, strict=True)]
            self._charge(sum(news), len(news) * max(news) - sum(news))
            for (s, _), m in zip(chunk, matches, strict=True):
                seen.put(s, m.length, None)
        self.counters.reads += reads - len(fresh)
        self.counters.nfe += reads - len(fresh)


class _ToyBatch:
    """`ToyLM`'s `DecodeBatch`: the rows' prefixes and generated tokens (no arrays to keep)."""

    def __init__(self, lm: ToyLM, rows: list[tuple[int, ...]], toks: list[list[int]]) -> None:
        self.lm, self.rows, self.toks = lm, rows, toks

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        """Every row feeds its newest token: one position each (the whole prefix uncached)."""
        seqs = [self.rows[i] + tuple(self.toks[i]) for i in rows]
        if self.lm.cache:
            for s in seqs:
                self.lm._seen.put(s, len(s) - 1, None)
            work = len(seqs)
        else:
            work = sum(len(s) for s in seqs)
        return np.stack([self.lm.logprobs_of(s) for s in seqs]), work

    def keep(self, going: Sequence[int]) -> None:
        pass

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        pass  # fed positions are recorded as they are fed
