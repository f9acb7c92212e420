"""Key/value sets with explicit positions: what one attention layer attends to.

A `KV` holds keys and values of some tokens of each row, the token positions, and a validity mask
(rows are padded to the longest). Because causality is decided by positions, not by index, a KV
set may hold any subset of a sequence: the tokens active at one recursion depth, or a cache that
grew over many decoding calls. `MoRCache` maps a slot name (``first.i``, ``block.r.l``,
``last.i``) to its KV set.

Layout: `KV.append` keeps each row's entries left-aligned (compact) in buffers with spare capacity
(grown by doubling), so a decoding step writes only its new entries (no copy of the cache) and a
row that skips a recursion adds nothing to that depth's slot: the width held is the longest row's
count, not the number of steps. The ``k``/``v``/``pos``/``valid`` of a `KV` are views of the
buffers; an older `KV` of the same slot may see later appends in its padding cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from mctd_mor.gather import gather_index


@dataclass
class _Store:
    """Buffers ``(B, H, cap, hd)`` / ``(B, cap)``, each row's entry count, the longest count
    (``width``) and whether every row has ``width`` entries (``uniform``: appends are slices)."""

    k: Tensor
    v: Tensor
    pos: Tensor
    valid: Tensor
    lens: Tensor
    width: int = 0
    uniform: bool = True

    @staticmethod
    def compact(kv: KV, cap: int) -> _Store:
        """``kv``'s valid entries moved to the front of each row, in order; buffers of ``cap``."""
        b, h, _, hd = kv.k.shape
        order, front = gather_index(kv.valid)
        n = order.shape[1]
        lens = kv.valid.sum(1)
        cap = max(cap, n)
        store = _Store(
            kv.k.new_zeros(b, h, cap, hd),
            kv.v.new_zeros(b, h, cap, hd),
            kv.pos.new_zeros(b, cap),
            kv.valid.new_zeros(b, cap),
            lens,
            int(lens.max()) if b else 0,
            bool((lens == n).all()),
        )
        idx = order[:, None, :, None].expand(b, h, n, hd)
        store.k[:, :, :n] = kv.k.gather(2, idx)
        store.v[:, :, :n] = kv.v.gather(2, idx)
        store.pos[:, :n] = kv.pos.gather(1, order)
        store.valid[:, :n] = front
        return store

    def grow(self, need: int) -> None:
        """Make room for ``need`` entries per row (capacity doubled until it fits)."""
        cap = self.k.shape[2]
        if need <= cap:
            return
        new = max(need, 2 * cap, 16)
        b, h, _, hd = self.k.shape
        for name in ("k", "v"):
            old = getattr(self, name)
            buf = old.new_zeros(b, h, new, hd)
            buf[:, :, :cap] = old
            setattr(self, name, buf)
        for name in ("pos", "valid"):
            old = getattr(self, name)
            buf = old.new_zeros(b, new)
            buf[:, :cap] = old
            setattr(self, name, buf)


@dataclass
class KV:
    """Keys and values ``(B, H, N, hd)``, positions ``(B, N)`` and validity ``(B, N)``."""

    k: Tensor
    v: Tensor
    pos: Tensor
    valid: Tensor
    store: _Store | None = field(default=None, repr=False)

    @staticmethod
    def empty(batch: int, heads: int, head_dim: int, like: Tensor) -> KV:
        z = like.new_zeros(batch, heads, 0, head_dim)
        return KV(
            z,
            z,
            like.new_zeros(batch, 0, dtype=torch.long),
            like.new_zeros(batch, 0, dtype=torch.bool),
        )

    def cat(self, other: KV) -> KV:
        """This set followed by ``other`` (same rows), as new tensors."""
        return KV(
            torch.cat([self.k, other.k], 2),
            torch.cat([self.v, other.v], 2),
            torch.cat([self.pos, other.pos], 1),
            torch.cat([self.valid, other.valid], 1),
        )

    def append(self, new: KV, rows: Tensor | None = None) -> KV:
        """This set plus the valid entries of ``new`` (which holds batch ``rows`` of this set,
        default all), written after each row's own entries; the slot's KV after the append."""
        s = self.store
        if s is None:
            s = _Store.compact(self, max(16, 2 * self.k.shape[2]))
        m = new.k.shape[2]
        full = bool(new.valid.all())
        if full and rows is None and s.uniform:  # every row gains m entries: one slice each
            s.grow(s.width + m)
            w0, s.width = s.width, s.width + m
            s.k[:, :, w0 : s.width] = new.k
            s.v[:, :, w0 : s.width] = new.v
            s.pos[:, w0 : s.width] = new.pos
            s.valid[:, w0 : s.width] = True
            s.lens += m
        else:
            self._scatter(s, new, rows, full)
        w = s.width
        return KV(s.k[:, :, :w], s.v[:, :, :w], s.pos[:, :w], s.valid[:, :w], s)

    @staticmethod
    def _scatter(s: _Store, new: KV, rows: Tensor | None, full: bool) -> None:
        """Write each row's valid new entries after its own (rows may end up of unequal length)."""
        r = torch.arange(s.lens.shape[0], device=s.lens.device) if rows is None else rows
        nv = new.valid
        m = nv.shape[1]
        if not len(r):
            return
        if full and m == 1:  # decoding: one entry per row, at its own length
            at = s.lens[r]
            need = int(at.max()) + 1
            s.grow(need)
            s.k[r, :, at], s.v[r, :, at] = new.k[:, :, 0], new.v[:, :, 0]
            s.pos[r, at], s.valid[r, at] = new.pos[:, 0], True
            s.lens[r] = at + 1
            s.width, s.uniform = max(s.width, need), False
            return
        start = s.lens[r][:, None]
        cnt = nv.sum(1)
        end = start[:, 0] + cnt
        need = int(end.max())
        s.grow(need)
        kk, vv = new.k.transpose(1, 2), new.v.transpose(1, 2)  # (M, m, H, hd)
        if full:  # no padding among the new entries: plain index tensors
            bi = r[:, None].expand(-1, m)
            ci = start + torch.arange(m, device=start.device)
            s.k[bi, :, ci], s.v[bi, :, ci], s.pos[bi, ci] = kk, vv, new.pos
        else:
            col = start + nv.long().cumsum(1) - 1
            bi, ci = r[:, None].expand_as(nv)[nv], col[nv]
            s.k[bi, :, ci], s.v[bi, :, ci], s.pos[bi, ci] = kk[nv], vv[nv], new.pos[nv]
        s.valid[bi, ci] = True
        s.lens[r] = end
        s.width, s.uniform = max(s.width, need), False  # rows may differ in length from here on

    def select(self, rows: Tensor) -> KV:
        """Keep only batch ``rows`` (a copy)."""
        return KV(self.k[rows], self.v[rows], self.pos[rows], self.valid[rows])

    @property
    def entries(self) -> int:
        """Valid (token, slot) entries held."""
        return int(self.valid.sum())

    def nbytes(self) -> int:
        """Bytes of the valid keys and values (padding not counted)."""
        per = self.k.shape[1] * self.k.shape[3] * self.k.element_size() * 2
        return self.entries * per

    def held_bytes(self) -> int:
        """Bytes of keys and values in the ``(B, H, N, hd)`` layout: valid entries plus the
        padding of rows shorter than the longest (spare growth capacity not counted)."""
        return 2 * self.k.numel() * self.k.element_size()


@dataclass
class MoRCache:
    """The KV sets of every layer slot of a MoR model, grown by each forward call."""

    slots: dict[str, KV] = field(default_factory=dict)

    def get(self, name: str, batch: int, heads: int, head_dim: int, like: Tensor) -> KV:
        kv = self.slots.get(name)
        return kv if kv is not None else KV.empty(batch, heads, head_dim, like)

    def select(self, rows: Tensor) -> None:
        """Keep only batch ``rows`` in every slot (rows that finished decoding leave)."""
        self.slots = {k: v.select(rows) for k, v in self.slots.items()}

    def entries(self) -> int:
        return sum(kv.entries for kv in self.slots.values())

    def nbytes(self) -> int:
        """KV memory of the valid entries (what a ragged / paged layout would hold)."""
        return sum(kv.nbytes() for kv in self.slots.values())

    def held_bytes(self) -> int:
        """KV memory this padded-row layout holds (see `KV.held_bytes`)."""
        return sum(kv.held_bytes() for kv in self.slots.values())
