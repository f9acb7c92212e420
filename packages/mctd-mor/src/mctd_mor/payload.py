"""What the prefix tree keeps per segment of a MoR sequence, and how a batch cache is rebuilt.

A `Segment` covers positions ``pos0 .. pos0 + n - 1`` of one sequence: each position's final
(normed) hidden state and recursion depth, and for every KV slot the keys/values of the positions
that slot holds (all of them for unique layers; only those that reached depth r for
``block.r.*`` under recursion-wise caching), tagged with their positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from mctd_tree.lm import Match, PrefixTree
from torch import Tensor

from mctd_mor.kv import KV, MoRCache

SlotEntries = tuple[Tensor, Tensor, Tensor]  # k (H, m, hd), v (H, m, hd), pos (m,)


@dataclass
class Segment:
    pos0: int
    hidden: Tensor  # (n, D)
    depth: Tensor  # (n,)
    slots: dict[str, SlotEntries]

    def cut(self, start: int, stop: int | None) -> Segment:
        """Positions ``pos0 + start .. pos0 + stop - 1`` of this segment."""
        n = self.hidden.shape[0]
        stop = n if stop is None else stop
        lo, hi = self.pos0 + start, self.pos0 + stop
        slots = {}
        for name, (k, v, p) in self.slots.items():
            keep = (p >= lo) & (p < hi)
            slots[name] = (k[:, keep], v[:, keep], p[keep])
        return Segment(lo, self.hidden[start:stop], self.depth[start:stop], slots)


class SegmentTree(PrefixTree[Segment]):
    """The prefix tree of a `MoRLM`."""

    def _slice(self, payload: Segment, start: int, stop: int | None) -> Segment:
        return payload.cut(start, stop)


def row_segment(cache: MoRCache, row: int, pos0: int, hidden: Tensor, depth: Tensor) -> Segment:
    """The entries of batch ``row`` at positions >= ``pos0`` (what one call added), copied."""
    slots = {}
    for name, kv in cache.slots.items():
        keep = kv.valid[row] & (kv.pos[row] >= pos0)
        slots[name] = (
            kv.k[row][:, keep].clone(),
            kv.v[row][:, keep].clone(),
            kv.pos[row][keep].clone(),
        )
    return Segment(pos0, hidden.clone(), depth.clone(), slots)


def assemble(
    matches: Sequence[Match[Segment]], slots: Sequence[str], heads: int, head_dim: int, like: Tensor
) -> MoRCache:
    """A batch `MoRCache` holding each row's cached prefix (rows padded, padding invalid)."""
    per_row: list[dict[str, list[SlotEntries]]] = []
    for m in matches:
        parts: dict[str, list[SlotEntries]] = {s: [] for s in slots}
        for node, used in m.segments:
            assert node.payload is not None
            seg = (
                node.payload if used == node.payload.hidden.shape[0] else node.payload.cut(0, used)
            )
            for s in slots:
                if s in seg.slots:
                    parts[s].append(seg.slots[s])
        per_row.append(parts)
    cache = MoRCache()
    b = len(matches)
    for s in slots:
        rows = [_cat(parts[s], heads, head_dim, like) for parts in per_row]
        width = max((r[2].shape[0] for r in rows), default=0)
        k = like.new_zeros(b, heads, width, head_dim)
        v = like.new_zeros(b, heads, width, head_dim)
        pos = torch.zeros(b, width, dtype=torch.long, device=like.device)
        valid = torch.zeros(b, width, dtype=torch.bool, device=like.device)
        for i, (rk, rv, rp) in enumerate(rows):
            w = rp.shape[0]
            k[i, :, :w], v[i, :, :w], pos[i, :w], valid[i, :w] = rk, rv, rp, True
        cache.slots[s] = KV(k, v, pos, valid)
    return cache


def _cat(parts: list[SlotEntries], heads: int, head_dim: int, like: Tensor) -> SlotEntries:
    if not parts:
        z = like.new_zeros(heads, 0, head_dim)
        return z, z, torch.zeros(0, dtype=torch.long, device=like.device)
    return (
        torch.cat([p[0] for p in parts], 1),
        torch.cat([p[1] for p in parts], 1),
        torch.cat([p[2] for p in parts]),
    )
