"""Key/value sets with explicit positions: what one attention layer attends to.

A `KV` holds keys and values of some tokens of each row, the token positions, and a validity mask
(rows are padded to the longest). Because causality is decided by positions, not by index, a KV
set may hold any subset of a sequence: the tokens active at one recursion depth, or a cache that
grew over many decoding calls. `MoRCache` maps a slot name (``first.i``, ``block.r.l``,
``last.i``) to its KV set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor


@dataclass
class KV:
    """Keys and values ``(B, H, N, hd)``, positions ``(B, N)`` and validity ``(B, N)``."""

    k: Tensor
    v: Tensor
    pos: Tensor
    valid: Tensor

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
        """This set followed by ``other`` (same rows)."""
        return KV(
            torch.cat([self.k, other.k], 2),
            torch.cat([self.v, other.v], 2),
            torch.cat([self.pos, other.pos], 1),
            torch.cat([self.valid, other.valid], 1),
        )

    def select(self, rows: Tensor) -> KV:
        """Keep only batch ``rows``."""
        return KV(self.k[rows], self.v[rows], self.pos[rows], self.valid[rows])

    @property
    def entries(self) -> int:
        """Valid (token, slot) entries held."""
        return int(self.valid.sum())

    def nbytes(self) -> int:
        """Bytes of the valid keys and values (padding not counted)."""
        per = self.k.shape[1] * self.k.shape[3] * self.k.element_size() * 2
        return self.entries * per


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
        """KV memory actually held (valid entries only)."""
        return sum(kv.nbytes() for kv in self.slots.values())
