"""`MLXLM`: the mctd `LanguageModel` protocol on Apple MLX (mlx-lm), with tree-aware KV reuse.

The same design and the same observable behaviour as mctd-llm-torch's `TorchLM`: every position a
call computes goes into a `PrefixCache` (a radix tree keyed by token ids) with its keys/values and
final hidden state, so a later call on any prefix that shares cached ancestors only computes the
positions after them, and a fully cached prefix costs one ``lm_head`` product. Rollout tokens
become cached tree positions too.

A call computes in a private left-padded `Batch` (see `batch`): mlx-lm caches write in place, so
tree nodes never share a mutable cache object; cached segments are fresh copies. Rows that stop are
dropped from the batch. ``next_logprobs`` and ``generate`` are `mctd_tree.lm.TokenizerLM`'s: one
decode loop (`mctd_tree.lm.decode_steps`) and one sampling rule (`mctd_tree.lm.sampling`: numpy
uniforms, inverse CDF) for every backend, so a seeded search draws the same tokens on both
backends when their distributions agree; this class supplies the array operations.

Counters: ``nfe`` counts positions fed through the transformer (prefill + decode, rollouts
included, left-padding of ragged prefill batches too, also reported as ``padded``) and every
next-token distribution read from a cached hidden state with no position computed for it (one
``lm_head`` product, about 1/5 of a position's FLOPs for SmolLM2-135M, counted as one position and
reported as ``reads``); ``calls`` counts forward calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import mlx.core as mx
import numpy as np
from mctd_tree.lm import KVMatch, PrefixCache, TokenizerLM, find_eos
from mctd_tree.protocols import Counters

from mctd_llm_mlx.batch import Batch, assemble
from mctd_llm_mlx.loading import DEFAULT_MODEL, load_model_and_tokenizer, resolve_model_dir

DEFAULT_MAX_CACHE_POSITIONS = 16384
_DTYPES = {"float32": mx.float32, "bfloat16": mx.bfloat16, "float16": mx.float16}


class MLXLM(TokenizerLM):
    """An mlx-lm causal LM as an mctd `LanguageModel`, with a bounded tree-aware KV cache.

    ``model``: ``"default"`` (the embedded SmolLM2-135M-Instruct), a Hub id (e.g.
    ``mlx-community/...``), a local MLX or Hugging Face safetensors folder, or a ``.gguf`` file
    (llama architecture). ``dtype``: ``"float32"``/``"bfloat16"``/``"float16"`` to cast the
    weights, None to keep them as stored (fp32 for the default model). ``max_cache_positions``: the
    bound on cached positions (see `PrefixCache`; each costs ``cache_bytes_per_position`` bytes).
    ``prefill_tokens``: the most (padded) new positions one prefill forward call takes.
    """

    cache: PrefixCache[mx.array]

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        dtype: str | None = None,
        max_cache_positions: int = DEFAULT_MAX_CACHE_POSITIONS,
        prefill_tokens: int = 8192,
        progress: bool = True,
        _loaded: tuple[Any, Any, dict[str, Any]] | None = None,
    ) -> None:
        self.name = os.fspath(model)
        self.device = mx.default_device()
        if _loaded is None:
            folder = resolve_model_dir(model, progress=progress)
            _loaded = load_model_and_tokenizer(Path(folder))
        mlx_model, tok, config = _loaded
        if dtype is not None:
            if dtype not in _DTYPES:
                raise ValueError(f"unknown dtype {dtype!r}; use one of {sorted(_DTYPES)}")
            mlx_model.set_dtype(_DTYPES[dtype])
        self.model = mlx_model
        self.tokenizer = tok
        self.config = config
        inner: Any = getattr(mlx_model, "model", None)
        if inner is None:
            raise NotImplementedError(
                f"{type(mlx_model).__name__} has no inner '.model'; MLXLM supports mlx-lm "
                "decoder models whose logits are lm_head(final hidden state)"
            )
        self._inner: Any = inner
        self._vocab = int(config.get("vocab_size") or mlx_model.args.vocab_size)
        self._max_context = int(config.get("max_position_embeddings") or 2048)
        self._pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        self._layers, self._kv_heads, self._head_dim, self.dtype, self._hidden = self._probe()
        self._eos = self._find_eos()
        self.cache = PrefixCache(max_cache_positions, mx.contiguous)
        self.prefill_tokens = int(prefill_tokens)
        self.counters = Counters()

    @classmethod
    def default(cls, **kwargs: Any) -> MLXLM:
        """The embedded SmolLM2-135M-Instruct (converted once to MLX, then reused)."""
        return cls(DEFAULT_MODEL, **kwargs)

    @classmethod
    def from_model(
        cls, model: Any, tokenizer: Any, config: dict[str, Any] | None = None, **kwargs: Any
    ) -> MLXLM:
        """Wrap a built mlx-lm model and Hugging Face tokenizer (e.g. a tiny test model)."""
        cfg = dict(config or vars(getattr(model, "args", object())))
        return cls("in-memory", _loaded=(model, tokenizer, cfg), **kwargs)

    # ---------------------------------------------------------------- extras
    @property
    def cache_bytes_per_position(self) -> int:
        """Memory one cached position takes: keys + values of every layer, and the hidden state."""
        per = self._layers * 2 * self._kv_heads * self._head_dim + self._hidden
        return per * self.dtype.size

    # ---------------------------------------------------------------- array operations
    def _cached_logprobs(self, prefixes: Sequence[tuple[int, ...]]) -> np.ndarray:
        return self._logprobs(mx.stack([self.cache.match(p).last_hidden() for p in prefixes]))

    def _decode_batch(
        self, rows: list[tuple[int, ...]], steps: int
    ) -> tuple[_Decoding, np.ndarray]:
        matches = [self.cache.match(r) for r in rows]
        batch = self._assemble(matches, extra=steps - 1)
        lp = self._logprobs(mx.stack([m.last_hidden() for m in matches]))
        return _Decoding(self, batch, rows, steps), lp

    # ---------------------------------------------------------------- internals
    def _probe(self) -> tuple[int, int, int, Any, int]:
        """Check the architecture (plain KV caches; logits = head(final hidden)) and read shapes."""
        from mlx_lm.models.cache import KVCache, make_prompt_cache

        caches = make_prompt_cache(self.model)
        if not all(type(c) is KVCache for c in caches):
            kinds = sorted({type(c).__name__ for c in caches})
            raise NotImplementedError(
                f"{type(self.model).__name__} uses {kinds}; MLXLM supports models with plain "
                "full-attention KV caches"
            )
        ids = mx.array([[self._pad_id, 1 % self._vocab, 2 % self._vocab]], dtype=mx.int32)
        full = self.model(ids).astype(mx.float32)
        hidden = self._inner(ids, cache=caches)
        mine = self._head(hidden).astype(mx.float32)
        if not mx.allclose(full, mine, rtol=1e-3, atol=1e-3).item():
            raise NotImplementedError(
                f"{type(self.model).__name__} post-processes its logits; MLXLM supports models "
                "whose logits are lm_head(final hidden state)"
            )
        keys = caches[0].keys
        assert keys is not None
        return (
            len(caches),
            int(keys.shape[1]),
            int(keys.shape[3]),
            keys.dtype,
            int(hidden.shape[-1]),
        )

    def _head(self, hidden: mx.array) -> mx.array:
        head = getattr(self.model, "lm_head", None)
        if head is not None:
            return head(hidden)
        return self._inner.embed_tokens.as_linear(hidden)

    def _find_eos(self) -> frozenset[int]:
        sources = (
            self.config.get("eos_token_id"),
            self.config.get("generation_eos_token_id"),
            getattr(self.tokenizer, "eos_token_id", None),
        )
        return find_eos(sources, self.tokenizer, self._vocab)

    def _logprobs(self, hidden: mx.array, *also: mx.array) -> np.ndarray:
        logits = self._head(hidden).astype(mx.float32)
        lp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        mx.eval(lp, *also)
        return np.array(lp, copy=True)

    def _assemble(self, matches: list[KVMatch[mx.array]], extra: int) -> Batch:
        return assemble(
            matches,
            extra,
            layers=self._layers,
            kv_heads=self._kv_heads,
            head_dim=self._head_dim,
            dtype=self.dtype,
        )

    def _forward(self, ids: np.ndarray, batch: Batch) -> mx.array:
        return self._inner(mx.array(ids, dtype=mx.int32), cache=batch.layers)

    def _prefill(self, targets: Sequence[tuple[tuple[int, ...], object]]) -> None:
        """One forward call computing the uncached tail of every target; cache the results."""
        # Re-match: an earlier chunk of this round may have split nodes on these paths.
        matches = [self.cache.match(s) for s, _ in targets]
        seqs = [s for s, _ in targets]
        news = [s[m.length :] for s, m in zip(seqs, matches, strict=True)]
        n_new = max(len(x) for x in news)
        batch = self._assemble(matches, extra=n_new)
        past = batch.length
        b = len(seqs)
        ids = np.full((b, n_new), self._pad_id, dtype=np.int32)
        offset = np.zeros(b, dtype=np.int32)
        for i, (x, m) in enumerate(zip(news, matches, strict=True)):
            off = n_new - len(x)
            ids[i, off:] = x
            offset[i] = m.length - off  # rotary position of column 0 (padding gets < m.length)
            batch.keymask[i, past + off :] = True
        total = past + n_new
        q = np.arange(n_new)[:, None] + past
        k = np.arange(total)[None, :]
        mask = batch.keymask[:, None, None, :total] & (k <= q)[None, None]
        # Padding queries attend to themselves only, so no row of the softmax is empty (NaN).
        mask[:, :, np.arange(n_new), past + np.arange(n_new)] = True
        batch.offset = mx.array(offset)
        batch.mask = mx.array(mask)
        hidden = self._forward(ids, batch)
        self.counters.calls += 1
        batch.length = total
        kv_all = batch.segment_kv(list(range(b)), past, total)
        kvs = [mx.contiguous(kv_all[:, :, i, :, n_new - len(x) :]) for i, x in enumerate(news)]
        hs = [mx.contiguous(hidden[i, n_new - len(x) :]) for i, x in enumerate(news)]
        mx.eval(kvs, hs)
        for s, m, kv, h in zip(seqs, matches, kvs, hs, strict=True):
            self.cache.insert(s, m.length, kv, h)
        self.counters.nfe += sum(len(x) for x in news)
        self._count_padding(b * n_new - sum(len(x) for x in news))


class _Decoding:
    """`MLXLM`'s `DecodeBatch`: a left-padded `Batch` whose column ``p0 + t`` holds generated token
    ``t`` of every row, and the hidden states of the fed tokens (for the prefix cache)."""

    def __init__(self, lm: MLXLM, batch: Batch, rows: list[tuple[int, ...]], steps: int):
        self.lm, self.batch, self.rows = lm, batch, rows
        self.p0 = batch.length
        self.lens = np.array([len(r) for r in rows], dtype=np.int32)
        self.hbuf = mx.zeros((len(rows), max(steps - 1, 1), lm._hidden), dtype=lm.dtype)

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        batch = self.batch
        col = self.p0 + t
        batch.keymask[:, col] = True
        batch.offset = mx.array(self.lens + t)
        batch.mask = mx.array(batch.keymask[:, None, None, : col + 1])
        h = self.lm._forward(ids[:, None].astype(np.int32), batch)[:, -1]
        batch.length = col + 1
        self.hbuf[mx.array(list(rows), dtype=mx.int32), t] = h
        return self.lm._logprobs(h, self.hbuf), len(rows)

    def keep(self, going: Sequence[int]) -> None:
        self.batch.select(list(going))
        self.lens = self.lens[list(going)]

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        """Cache the ``fed`` generated positions of finishing rows (the last token is not fed)."""
        kv_all = self.batch.segment_kv(list(done), self.p0, self.p0 + fed)
        kvs = [mx.contiguous(kv_all[:, :, r]) for r in range(len(done))]
        hs = [mx.contiguous(self.hbuf[i, :fed]) for i in rows]
        mx.eval(kvs, hs)
        for i, tk, kv, h in zip(rows, toks, kvs, hs, strict=True):
            prefix = self.rows[i]
            self.lm.cache.insert(prefix + tuple(tk[:fed]), len(prefix), kv, h)


__all__ = ["DEFAULT_MAX_CACHE_POSITIONS", "MLXLM"]
