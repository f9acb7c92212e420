"""`TorchLM`: the mctd `LanguageModel` protocol on PyTorch + transformers, with tree-aware KV reuse.

Every position a call computes goes into a `PrefixCache` (a radix tree keyed by token ids) with its
keys/values and final hidden state, so a later call on any prefix that shares cached ancestors only
computes the positions after them, and a fully cached prefix costs one ``lm_head`` product. This is
what makes token-level tree search cheap: a node's expansion feeds one token, a rollout from it
starts decoding at once, and rollout tokens become cached tree positions for free.

A batch of prefixes of different lengths is laid out left-padded: each row's cached past is copied
into one buffer ending at column P, its new tokens (left-padded) follow, and an explicit 4-D
attention mask plus ``position_ids`` (each row counts from 0 at its first real token) make padding
invisible. The buffer is preallocated, so decoding writes keys/values in place (no per-step
concatenation), and rows that stop are dropped from the batch. Rows never share a mutable cache
object: the batch buffer is private to the call and cached segments are copied out of it.
``next_logprobs`` and ``generate`` are `mctd_tree.lm.TokenizerLM`'s: one decode loop
(`mctd_tree.lm.decode_steps`) and one sampling rule for every backend; this module supplies the
array operations (assemble a batch from prefix-tree matches, forward, log-probs, store).

Counters: ``nfe`` counts positions fed through the transformer (prefill + decode, rollouts
included, left-padding of ragged prefill batches too, also reported as ``padded``) and every
next-token distribution read from a cached hidden state with no position computed for it (one
``lm_head`` product, about 1/5 of a position's FLOPs for SmolLM2-135M, counted as one position and
reported as ``reads``); ``calls`` counts forward calls.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from mctd_tree.errors import UserError
from mctd_tree.lm import KVMatch, PrefixCache, TokenizerLM, find_eos
from mctd_tree.protocols import Counters
from transformers.cache_utils import Cache, DynamicLayer

from mctd_llm_torch.loading import (
    DEFAULT_MODEL,
    load_model_and_tokenizer,
    resolve_source,
)

DEFAULT_MAX_CACHE_POSITIONS = 16384


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else the best available: cuda > mps > cpu. `UserError` for a device
    torch does not know or that this machine lacks."""
    if device is not None and str(device) != "auto":
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise UserError(
                f"unknown device {str(device)!r}; use cpu, cuda, cuda:N, mps or auto"
            ) from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise UserError(f"device {str(device)!r} requested but no CUDA device is available")
        mps = getattr(torch.backends, "mps", None)
        if dev.type == "mps" and not (mps is not None and mps.is_available()):
            raise UserError(f"device {str(device)!r} requested but MPS is not available")
        if dev.type not in ("cpu", "cuda", "mps"):
            raise UserError(f"device {str(device)!r} is not supported; use cpu, cuda or mps")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(device: torch.device, dtype: str | torch.dtype | None = None) -> torch.dtype:
    """``dtype`` if given, else bf16 on CUDA, fp16 on MPS, fp32 on CPU."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype is not None and dtype != "auto":
        resolved = getattr(torch, str(dtype).replace("torch.", ""), None)
        if not isinstance(resolved, torch.dtype):
            raise UserError(f"unknown dtype {dtype!r}")
        return resolved
    return {"cuda": torch.bfloat16, "mps": torch.float16}.get(device.type, torch.float32)


class _BufferLayer(DynamicLayer):
    """A full-attention cache layer that writes into a preallocated buffer view (no concat)."""

    def __init__(self, kbuf: torch.Tensor, vbuf: torch.Tensor, length: int) -> None:
        super().__init__()
        self.set_buffers(kbuf, vbuf, length)

    def set_buffers(self, kbuf: torch.Tensor, vbuf: torch.Tensor, length: int) -> None:
        self.kbuf, self.vbuf, self.length = kbuf, vbuf, length
        self.dtype, self.device = kbuf.dtype, kbuf.device
        self.is_initialized = True
        self.keys = kbuf[:, :, :length]
        self.values = vbuf[:, :, :length]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        pass

    def update(
        self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n = key_states.shape[-2]
        end = self.length + n
        if end > self.kbuf.shape[-2]:
            raise RuntimeError("mctd-llm-torch: batch KV buffer overflow (internal error)")
        self.kbuf[:, :, self.length : end] = key_states
        self.vbuf[:, :, self.length : end] = value_states
        self.length = end
        self.keys = self.kbuf[:, :, :end]
        self.values = self.vbuf[:, :, :end]
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length


@dataclass
class _Batch:
    """A private, left-padded batch: ``buf`` (layers, 2, B, kv_heads, capacity, head_dim) and the
    key mask over its used columns."""

    buf: torch.Tensor
    keymask: torch.Tensor  # (B, capacity) bool
    length: int
    cache: Cache
    layers: list[_BufferLayer]

    def select(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (drops finished rows; copies the used columns once)."""
        self.buf = self.buf.index_select(2, rows)
        self.keymask = self.keymask.index_select(0, rows)
        for i, layer in enumerate(self.layers):
            layer.set_buffers(self.buf[i, 0], self.buf[i, 1], self.length)


class TorchLM(TokenizerLM):
    """A Hugging Face causal LM as an mctd `LanguageModel`, with a bounded tree-aware KV cache.

    ``model``: ``"default"`` (the embedded SmolLM2-135M-Instruct), a Hub id, a local folder, or a
    ``.gguf`` file. ``device``: ``"cpu"``/``"cuda"``/``"mps"`` or None for the best available.
    ``dtype``: default bf16 on CUDA, fp16 on MPS, fp32 on CPU. ``max_cache_positions``: the bound on
    cached positions (see `PrefixCache`; each costs ``cache_bytes_per_position`` bytes).
    ``prefill_tokens``: the most (padded) new positions one prefill forward call takes.
    """

    cache: PrefixCache[torch.Tensor]

    def __init__(
        self,
        model: str | os.PathLike[str] = DEFAULT_MODEL,
        *,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        max_cache_positions: int = DEFAULT_MAX_CACHE_POSITIONS,
        prefill_tokens: int = 8192,
        progress: bool = True,
        _loaded: tuple[Any, Any] | None = None,
    ) -> None:
        self.device = pick_device(device)
        self.dtype = pick_dtype(self.device, dtype)
        self.name = os.fspath(model)
        if _loaded is None:
            source = resolve_source(model, progress=progress)
            hf_model, tok = load_model_and_tokenizer(
                source, dtype=self.dtype, device=self.device, model_name=self.name
            )
        else:
            hf_model, tok = _loaded
            hf_model.to(device=self.device, dtype=self.dtype)
            hf_model.eval()
        self.model = hf_model
        self.tokenizer = tok
        self._base = getattr(hf_model, hf_model.base_model_prefix)
        self._head = hf_model.get_output_embeddings()
        cfg = hf_model.config.get_text_config(decoder=True)
        self._layers = int(cfg.num_hidden_layers)
        self._kv_heads = int(getattr(cfg, "num_key_value_heads", None) or cfg.num_attention_heads)
        self._head_dim = int(
            getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
        )
        self._hidden = int(cfg.hidden_size)
        self._vocab = int(cfg.vocab_size)
        self._max_context = int(getattr(cfg, "max_position_embeddings", 2048))
        attn = getattr(hf_model.config, "_attn_implementation", "sdpa")
        if attn not in ("sdpa", "eager"):
            hf_model.set_attn_implementation("sdpa")
            attn = "sdpa"
        self._bool_mask = attn == "sdpa"
        self._pad_id = int(tok.pad_token_id if tok.pad_token_id is not None else 0)
        self._eos = self._find_eos()
        self.cache = PrefixCache(max_cache_positions, torch.Tensor.contiguous)
        self.prefill_tokens = int(prefill_tokens)
        self.counters = Counters()
        self._check_head()

    @classmethod
    def default(cls, **kwargs: Any) -> TorchLM:
        """The embedded SmolLM2-135M-Instruct (converted once to safetensors, then reused)."""
        return cls(DEFAULT_MODEL, **kwargs)

    @classmethod
    def from_model(cls, model: Any, tokenizer: Any, **kwargs: Any) -> TorchLM:
        """Wrap an already-built transformers causal LM and tokenizer (e.g. a tiny test model)."""
        return cls(
            getattr(model, "name_or_path", "in-memory"), _loaded=(model, tokenizer), **kwargs
        )

    # ---------------------------------------------------------------- extras
    @property
    def cache_bytes_per_position(self) -> int:
        """Memory one cached position takes: keys + values of every layer, and the hidden state."""
        per = self._layers * 2 * self._kv_heads * self._head_dim + self._hidden
        return per * torch.finfo(self.dtype).bits // 8

    # ---------------------------------------------------------------- array operations
    def _inference(self) -> contextlib.AbstractContextManager[Any]:
        return torch.inference_mode()

    def _cached_logprobs(self, prefixes: Sequence[tuple[int, ...]]) -> np.ndarray:
        return self._logprobs(torch.stack([self.cache.match(p).last_hidden() for p in prefixes]))

    def _decode_batch(
        self, rows: list[tuple[int, ...]], steps: int
    ) -> tuple[_Decoding, np.ndarray]:
        matches = [self.cache.match(r) for r in rows]
        batch = self._assemble(matches, extra=steps - 1)
        lp = self._logprobs(torch.stack([m.last_hidden() for m in matches]))
        return _Decoding(self, batch, rows, steps), lp

    # ---------------------------------------------------------------- internals
    def _find_eos(self) -> frozenset[int]:
        srcs = (self.model.config, getattr(self.model, "generation_config", None), self.tokenizer)
        ids = (getattr(src, "eos_token_id", None) for src in srcs)
        return find_eos(ids, self.tokenizer, self._vocab)

    def _check_head(self) -> None:
        """Refuse architectures whose logits are not ``lm_head(final hidden)`` (e.g. soft-capped):
        cached hidden states would give wrong distributions."""
        ids = torch.tensor([[self._pad_id, 1 % self._vocab, 2 % self._vocab]], device=self.device)
        with torch.inference_mode():
            full = self.model(input_ids=ids).logits.float()
            mine = self._head(self._base(input_ids=ids).last_hidden_state).float()
        if not torch.allclose(full, mine, rtol=1e-3, atol=1e-3):
            raise NotImplementedError(
                f"{type(self.model).__name__} post-processes its logits; TorchLM supports models "
                "whose logits are lm_head(final hidden state)"
            )

    def _logprobs(self, hidden: torch.Tensor) -> np.ndarray:
        logits = self._head(hidden).float()
        return torch.log_softmax(logits, dim=-1).cpu().numpy()

    def _assemble(self, matches: list[KVMatch[torch.Tensor]], extra: int) -> _Batch:
        """Copy each row's cached past into a fresh left-padded buffer (``extra`` free columns)."""
        b = len(matches)
        past = max(m.length for m in matches)
        cap = past + extra
        buf = torch.empty(
            self._layers,
            2,
            b,
            self._kv_heads,
            cap,
            self._head_dim,
            dtype=self.dtype,
            device=self.device,
        )
        keymask = torch.zeros(b, cap, dtype=torch.bool, device=self.device)
        for i, m in enumerate(matches):
            off = past - m.length
            if off:
                buf[:, :, i, :, :off].zero_()
            keymask[i, off:past] = True
            for node, used in m.segments:
                assert node.payload is not None
                buf[:, :, i, :, off : off + used] = node.payload[0][:, :, :, :used]
                off += used
        layers = [_BufferLayer(buf[i, 0], buf[i, 1], past) for i in range(self._layers)]
        return _Batch(buf, keymask, past, Cache(layers=layers), layers)  # type: ignore[arg-type]

    def _forward(
        self, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, batch: _Batch
    ) -> torch.Tensor:
        if not self._bool_mask:
            zero = torch.zeros((), dtype=self.dtype, device=self.device)
            mask = torch.where(mask, zero, torch.finfo(self.dtype).min)
        out = self._base(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            past_key_values=batch.cache,
            use_cache=True,
        )
        return out.last_hidden_state

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
        ids = torch.full((b, n_new), self._pad_id, dtype=torch.long, device=self.device)
        pos = torch.zeros((b, n_new), dtype=torch.long, device=self.device)
        for i, (x, m) in enumerate(zip(news, matches, strict=True)):
            off = n_new - len(x)
            ids[i, off:] = torch.tensor(x, device=self.device)
            pos[i, off:] = torch.arange(m.length, m.length + len(x), device=self.device)
            batch.keymask[i, past + off :] = True
        total = past + n_new
        q = torch.arange(n_new, device=self.device)[:, None] + past
        k = torch.arange(total, device=self.device)[None, :]
        causal = k <= q
        mask = batch.keymask[:, None, None, :total] & causal[None, None]
        # Padding queries attend to themselves only, so no row of the softmax is empty (NaN).
        mask[:, :, torch.arange(n_new), past + torch.arange(n_new, device=self.device)] = True
        hidden = self._forward(ids, mask, pos, batch)
        self.counters.calls += 1
        batch.length = total
        for i, (s, x, m) in enumerate(zip(seqs, news, matches, strict=True)):
            kv = batch.buf[:, :, i, :, total - len(x) : total].clone()
            h = hidden[i, n_new - len(x) :].clone()
            self.cache.insert(s, m.length, kv, h)
        self.counters.nfe += sum(len(x) for x in news)
        self._count_padding(b * n_new - sum(len(x) for x in news))


class _Decoding:
    """`TorchLM`'s `DecodeBatch`: a left-padded `_Batch` whose column ``p0 + t`` holds generated
    token ``t`` of every row, and the hidden states of the fed tokens (for the prefix cache)."""

    def __init__(self, lm: TorchLM, batch: _Batch, rows: list[tuple[int, ...]], steps: int):
        self.lm, self.batch, self.rows = lm, batch, rows
        self.p0 = batch.length
        self.lens = torch.tensor([len(r) for r in rows], device=lm.device)
        self.hbuf = torch.empty(
            len(rows), max(steps - 1, 1), lm._hidden, dtype=lm.dtype, device=lm.device
        )

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        lm, batch = self.lm, self.batch
        col = self.p0 + t
        batch.keymask[:, col] = True
        pos = (self.lens + t).unsqueeze(1)
        mask = batch.keymask[:, None, None, : col + 1]
        x = torch.from_numpy(ids).to(lm.device).unsqueeze(1)
        h = lm._forward(x, mask, pos, batch)[:, -1]
        batch.length = col + 1
        self.hbuf[torch.tensor(list(rows), device=lm.device), t] = h
        return lm._logprobs(h), len(rows)

    def keep(self, going: Sequence[int]) -> None:
        keep = torch.tensor(list(going), device=self.lm.device)
        self.batch.select(keep)
        self.lens = self.lens.index_select(0, keep)

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        """Cache the ``fed`` generated positions of finishing rows (the last token is not fed)."""
        for j, i, tk in zip(done, rows, toks, strict=True):
            kv = self.batch.buf[:, :, j, :, self.p0 : self.p0 + fed].clone()
            prefix = self.rows[i]
            self.lm.cache.insert(
                prefix + tuple(tk[:fed]), len(prefix), kv, self.hbuf[i, :fed].clone()
            )


__all__ = ["DEFAULT_MAX_CACHE_POSITIONS", "TorchLM", "pick_device", "pick_dtype"]
