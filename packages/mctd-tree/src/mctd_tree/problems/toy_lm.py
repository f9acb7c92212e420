"""A tiny numpy language model implementing `LanguageModel`, for tests and examples.

The next-token distribution is a fixed random table indexed by the last two tokens (a trigram
model), so it is exact, fast and reproducible. It counts its work like a real backend with a prefix
cache: a position is "processed" the first time a prefix ending there is needed (``cache=True``), or
every time it is needed (``cache=False``, the naive re-encoding model). ``generate`` follows the
shared sampling rule (`sample_from_logprobs`) and feeds every generated token except the last.

Token 0 is EOS; tokens 1.. decode to the letters ``a``, ``b``, ... (so ``vocab_size <= 27``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mctd_tree.lm.stopping import Rows
from mctd_tree.problems.tokens import check_sampling, sample_from_logprobs
from mctd_tree.protocols import Counters, Generation


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
        self._seen: set[tuple[int, ...]] = set()
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
        self.counters.nfe = 0
        self.counters.calls = 0

    def clear_cache(self) -> None:
        """Forget every computed prefix, as a backend's cache eviction would."""
        self._seen = set()

    def logprobs_of(self, prefix: Sequence[int]) -> np.ndarray:
        """Exact next-token log-probs of one prefix, without counting (for tests)."""
        a = int(prefix[-2]) if len(prefix) >= 2 else 0
        return self._table[a, int(prefix[-1])]

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        rows = [self._check(p) for p in prefixes]
        self._process(rows)
        out = np.stack([self.logprobs_of(p) for p in rows]) if rows else np.zeros((0, self._vocab))
        return out.astype(np.float32)

    def generate(
        self,
        prefixes: Sequence[Sequence[int]],
        rng: np.random.Generator,
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        check_sampling(temperature, top_k, top_p)
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        rows = [self._check(p) for p in prefixes]
        self._process(rows)
        caps = [min(max_new_tokens, self._max_context - len(r)) for r in rows]
        out = Rows(caps, self.eos_token_ids, stop, self.decode, window=False)
        while out.active:
            lp = np.stack([self.logprobs_of(rows[i] + tuple(out.toks[i])) for i in out.active])
            drawn = sample_from_logprobs(lp, rng, temperature=temperature, top_k=top_k, top_p=top_p)
            out.keep(out.step(drawn, lp)[0])
            if out.active:  # feed the new tokens of the rows that go on
                self._process([rows[i] + tuple(out.toks[i]) for i in out.active])
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

    def _process(self, seqs: Sequence[tuple[int, ...]]) -> None:
        """Count the positions one batched forward call would process for ``seqs``."""
        new = 0
        if self.cache:
            for s in dict.fromkeys(seqs):
                j = len(s)
                while j > 0 and s[:j] not in self._seen:
                    self._seen.add(s[:j])
                    new += 1
                    j -= 1
        else:
            new = sum(len(s) for s in seqs)
        if new:
            self.counters.nfe += new
            self.counters.calls += 1
