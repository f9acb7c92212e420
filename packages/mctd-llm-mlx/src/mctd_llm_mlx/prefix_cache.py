"""A radix tree of token prefixes holding their key/values and final hidden states (MLX arrays).

The tree and its LRU policy are `mctd_tree.lm.PrefixTree` (as in mctd-llm-torch); each node's
payload is ``(kv, hidden)`` for the positions it adds to its parent's prefix:

- ``kv``: keys and values of those positions, shape ``(layers, 2, kv_heads, n, head_dim)``;
- ``hidden``: the final (post-norm) hidden states, shape ``(n, hidden_size)``, so that the
  next-token distribution after any cached prefix costs one ``lm_head`` product, not a forward.

MLX arrays are immutable values here: a node's arrays are fresh copies, never views into a live
mlx-lm ``KVCache`` buffer (those are written in place), so siblings never share mutable state and a
stored node never pins a whole batch buffer. The bound is ``max_positions`` cached positions in
total (each costs ``layers * 2 * kv_heads * head_dim + hidden_size`` numbers of the model's dtype).
"""

from __future__ import annotations

from collections.abc import Sequence

import mlx.core as mx
from mctd_tree.lm.prefix_tree import CacheStats, PrefixTree
from mctd_tree.lm.prefix_tree import Match as _Match

Payload = tuple[mx.array, mx.array]


class Match(_Match[Payload]):
    """The cached part of a prefix: ``(node, positions used)`` pairs from the root; its length."""

    def last_hidden(self) -> mx.array:
        node, used = self.segments[-1]
        assert node.payload is not None
        return node.payload[1][used - 1]

    def kv_pieces(self) -> list[mx.array]:
        """The ``(layers, 2, kv_heads, n, head_dim)`` pieces covering the matched positions."""
        out = []
        for node, used in self.segments:
            assert node.payload is not None
            kv = node.payload[0]
            out.append(kv if used == len(node.tokens) else kv[:, :, :, :used])
        return out


class PrefixCache(PrefixTree[Payload]):
    """Radix tree keyed by token ids; LRU eviction of leaves beyond ``max_positions``."""

    def _slice(self, payload: Payload, start: int, stop: int | None) -> Payload:
        kv, hidden = payload
        return mx.contiguous(kv[:, :, :, start:stop]), mx.contiguous(hidden[start:stop])

    def match(self, ids: Sequence[int], *, touch: bool = True) -> Match:
        m = super().match(ids, touch=touch)
        return Match(m.segments, m.length)

    def insert(self, ids: Sequence[int], start: int, kv: mx.array, hidden: mx.array) -> None:
        """Store positions ``start..len(ids)-1`` of ``ids`` (``ids[:start]`` must be cached).

        ``kv`` is ``(layers, 2, kv_heads, len(ids) - start, head_dim)`` and ``hidden``
        ``(len(ids) - start, hidden_size)``; both must be arrays the cache may keep (fresh copies,
        not views of a larger batch array, which would keep the whole batch alive).
        """
        self.put(ids, start, (kv, hidden))


__all__ = ["CacheStats", "Match", "PrefixCache"]
