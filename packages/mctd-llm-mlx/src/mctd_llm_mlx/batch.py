"""The private, left-padded batch buffer one MLXLM call computes in.

mlx-lm's ``KVCache`` writes keys/values in place into a preallocated buffer and ``trim`` only moves
an offset, so a cache object must never be shared by two tree nodes. Here every call builds its own
buffers (one per layer, ``(B, kv_heads, capacity, head_dim)``) by gathering each row's cached
segments from the prefix cache (`mctd_tree.lm.PrefixCache`; left-padded so all rows end at
column ``P``), writes the new positions in place, and copies the new segments out into the
prefix cache. The per-layer objects speak mlx-lm's cache protocol (``offset``,
``update_and_fetch``, ``make_mask``) so any mlx-lm model with plain full attention runs on them
unchanged; the explicit boolean mask and per-row rotary offsets make padding invisible.
"""

from __future__ import annotations

from typing import Any

import mlx.core as mx
import numpy as np
from mctd_tree.lm import KVMatch


class LayerCache:
    """One layer's view of a `Batch`: mlx-lm's cache protocol over a preallocated buffer."""

    __slots__ = ("batch", "keys", "values")

    def __init__(self, batch: Batch, keys: mx.array, values: mx.array) -> None:
        self.batch = batch
        self.keys = keys
        self.values = values

    @property
    def offset(self) -> mx.array:
        """Rotary position of the first column being computed, per row ``(B,)``."""
        return self.batch.offset

    def make_mask(self, n: int, *args: Any, **kwargs: Any) -> mx.array:
        return self.batch.mask

    def update_and_fetch(self, keys: mx.array, values: mx.array) -> tuple[mx.array, mx.array]:
        start = self.batch.length
        end = start + keys.shape[2]
        if end > self.keys.shape[2]:
            raise RuntimeError("mctd-llm-mlx: batch KV buffer overflow (internal error)")
        self.keys[..., start:end, :] = keys
        self.values[..., start:end, :] = values
        return self.keys[..., :end, :], self.values[..., :end, :]


class Batch:
    """Per-layer buffers, the key mask over their columns and the used length ``length``."""

    def __init__(self, layers: list[tuple[mx.array, mx.array]], keymask: np.ndarray, length: int):
        self.layers = [LayerCache(self, k, v) for k, v in layers]
        self.keymask = keymask  # (B, capacity) bool, numpy
        self.length = length
        self.offset = mx.zeros((keymask.shape[0],), dtype=mx.int32)
        self.mask = mx.ones((1, 1, 1, 1), dtype=mx.bool_)

    def select(self, rows: list[int]) -> None:
        """Keep only ``rows`` (drops finished rows; one copy of the buffers)."""
        idx = mx.array(rows, dtype=mx.int32)
        for layer in self.layers:
            layer.keys = layer.keys[idx]
            layer.values = layer.values[idx]
        mx.eval([a for layer in self.layers for a in (layer.keys, layer.values)])
        self.keymask = self.keymask[rows]

    def segment_kv(self, rows: list[int], start: int, end: int) -> mx.array:
        """Keys/values of columns ``start:end`` of ``rows``: ``(layers, 2, R, heads, n, dim)``."""
        idx = mx.array(rows, dtype=mx.int32)
        return mx.stack(
            [
                mx.stack([layer.keys[idx, :, start:end], layer.values[idx, :, start:end]])
                for layer in self.layers
            ]
        )


def assemble(
    matches: list[KVMatch[mx.array]],
    extra: int,
    *,
    layers: int,
    kv_heads: int,
    head_dim: int,
    dtype: Any,
) -> Batch:
    """Gather each row's cached past into fresh left-padded buffers with ``extra`` free columns.

    All cached pieces of the batch are concatenated once and gathered with one ``take`` (a
    constant number of MLX ops whatever the tree depth); padding columns read a zero slot.
    """
    b = len(matches)
    past = max(m.length for m in matches)
    cap = past + extra
    keymask = np.zeros((b, cap), dtype=bool)
    if past == 0:
        bufs = [
            (
                mx.zeros((b, kv_heads, cap, head_dim), dtype=dtype),
                mx.zeros((b, kv_heads, cap, head_dim), dtype=dtype),
            )
            for _ in range(layers)
        ]
        return Batch(bufs, keymask, 0)
    pieces: list[mx.array] = []
    starts: dict[tuple[int, int], int] = {}
    total = 0
    idx = np.empty((b, cap), dtype=np.int32)
    spans: list[list[tuple[int, int, int]]] = []  # per row: (flat start, column, length)
    for m in matches:
        row = []
        col = past - m.length
        for node, used in m.segments:
            key = (id(node), used)
            if key not in starts:
                assert node.payload is not None
                kv = node.payload[0]
                starts[key] = total
                pieces.append(kv if used == len(node.tokens) else kv[:, :, :, :used])
                total += used
            row.append((starts[key], col, used))
            col += used
        spans.append(row)
    idx[:] = total  # the zero slot
    for i, (m, row) in enumerate(zip(matches, spans, strict=True)):
        keymask[i, past - m.length : past] = True
        for src, col, used in row:
            idx[i, col : col + used] = np.arange(src, src + used, dtype=np.int32)
    zero = mx.zeros((layers, 2, kv_heads, 1, head_dim), dtype=dtype)
    flat = mx.concatenate([*pieces, zero], axis=3)
    gathered = mx.take(flat, mx.array(idx.reshape(-1)), axis=3)
    gathered = gathered.reshape(layers, 2, kv_heads, b, cap, head_dim).transpose(0, 1, 3, 2, 4, 5)
    bufs = [(mx.contiguous(gathered[i, 0]), mx.contiguous(gathered[i, 1])) for i in range(layers)]
    mx.eval([a for kv in bufs for a in kv])
    return Batch(bufs, keymask, past)
