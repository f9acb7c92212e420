"""Benchmark helpers for ``benchmarks/llm_search.py --backend mlx``: the naive baseline and the
plain batched decode rate, the MLX counterparts of mctd-llm-torch's ``NaiveTorchLM`` and the
benchmark's transformers decode loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import mlx.core as mx
import numpy as np
from mctd_tree.lm import Rows, WrappedLM, check_sampling, row_caps, sample_tokens
from mctd_tree.protocols import Generation

from mctd_llm_mlx.model import MLXLM


class NaiveMLXLM(WrappedLM):
    """Re-encode-every-call wrapper around a loaded `MLXLM`'s model (shares its weights).

    It behaves like the published MaxEnt-TS code: every call re-encodes each prefix from scratch,
    one row at a time; a rollout keeps an mlx-lm KV cache only inside its own call. Sampling uses
    the shared rule in the same random-number order as `MLXLM`, so a seeded search builds the same
    tree with either model.
    """

    lm: MLXLM

    def __init__(self, lm: MLXLM) -> None:
        super().__init__(lm)

    def _run(self, ids: Sequence[int], cache: list[Any]) -> np.ndarray:
        x = mx.array([list(ids)], dtype=mx.int32)
        logits = self.lm.model(x, cache=cache)[0, -1].astype(mx.float32)
        self.counters.nfe += len(ids)
        self.counters.calls += 1
        return np.array(logits - mx.logsumexp(logits), copy=True)

    def _cache(self) -> list[Any]:
        from mlx_lm.models.cache import make_prompt_cache

        return make_prompt_cache(self.lm.model)

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        rows = [self.lm._check_prefix(p) for p in prefixes]
        out = [self._run(p, self._cache()) for p in rows]
        return np.stack(out) if out else np.zeros((0, self.vocab_size), np.float32)

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
        rows = [self.lm._check_prefix(p, generating=True) for p in prefixes]
        caches = [self._cache() for _ in rows]
        lps = [self._run(r, c) for r, c in zip(rows, caches, strict=True)]
        caps = row_caps(max_new_tokens, rows, self.max_context)
        out = Rows(caps, self.eos_token_ids, stop, self.decode)
        while out.active:
            lp = np.stack([lps[i] for i in out.active])
            drawn, logq = sample_tokens(lp, rng, temperature=temperature, top_k=top_k, top_p=top_p)
            out.keep(out.step(drawn, lp, logq)[0])
            for i in out.active:  # one row at a time
                lps[i] = self._run([out.toks[i][-1]], caches[i])
        return out.results()


def plain_decode_rate(lm: MLXLM, prompt: list[int], batch: int, steps: int, seed: int) -> dict:
    """Positions/s of a plain batched mlx-lm decode loop (KVCache, categorical sampling)."""
    from mlx_lm.models.cache import make_prompt_cache

    mx.random.seed(seed)
    cache = make_prompt_cache(lm.model)
    logits = lm.model(mx.array([prompt] * batch, dtype=mx.int32), cache=cache)[:, -1]
    tok = mx.random.categorical(logits.astype(mx.float32))[:, None]
    mx.eval(tok)
    t0 = time.perf_counter()
    for _ in range(steps - 1):
        logits = lm.model(tok, cache=cache)[:, -1]
        tok = mx.random.categorical(logits.astype(mx.float32))[:, None]
        mx.eval(tok)
    wall = time.perf_counter() - t0
    positions = batch * (steps - 1)
    return {"batch": batch, "positions": positions, "wall_s": wall, "rate": positions / wall}


__all__ = ["NaiveMLXLM", "plain_decode_rate"]
