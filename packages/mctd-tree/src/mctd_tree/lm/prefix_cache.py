"""`PrefixCache`: the prefix tree of a transformer backend, holding keys/values and hidden states.

The tree and its LRU policy are `PrefixTree`; each node's payload is ``(kv, hidden)`` for the
positions it adds to its parent's prefix, as arrays of the backend's library (torch, MLX, numpy):

- ``kv``: keys and values of those positions, shape ``(layers, 2, kv_heads, n, head_dim)``;
- ``hidden``: the final (post-norm) hidden states, shape ``(n, hidden_size)``, so that the
  next-token distribution after any cached prefix costs one ``lm_head`` product, not a forward.

Arrays a node keeps must be its own (``contiguous`` copies, never views of a live batch buffer:
mlx-lm writes its buffers in place, and a view would keep a whole batch alive). The bound is
``max_positions`` cached positions in total (each costs ``layers * 2 * kv_heads * head_dim +
hidden_size`` numbers of the model's dtype; about 48 KB in fp32 for SmolLM2-135M).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from mctd_tree.lm.prefix_tree import CacheStats, Match, PrefixTree

A = TypeVar("A")


class KVMatch(Match[tuple[A, A]]):
    """The cached part of a prefix: ``(node, positions used)`` pairs from the root; its length."""

    def last_hidden(self) -> A:
        """The final hidden state at the last matched position."""
        node, used = self.segments[-1]
        assert node.payload is not None
        hidden: Any = node.payload[1]
        return hidden[used - 1]  # type: ignore[no-any-return]

    def kv_pieces(self) -> list[A]:
        """The ``(layers, 2, kv_heads, n, head_dim)`` pieces covering the matched positions."""
        out = []
        for node, used in self.segments:
            assert node.payload is not None
            kv: Any = node.payload[0]
            out.append(kv if used == len(node.tokens) else kv[:, :, :, :used])
        return out


class PrefixCache(PrefixTree[tuple[A, A]]):
    """Radix tree keyed by token ids; LRU eviction of leaves beyond ``max_positions``.

    ``contiguous``: the library's copy of a sliced array (``torch.Tensor.contiguous``,
    ``mx.contiguous``, ``numpy.ascontiguousarray``), applied when a node is split.
    """

    def __init__(self, max_positions: int, contiguous: Callable[[A], A]) -> None:
        super().__init__(max_positions)
        self._contiguous = contiguous

    def _slice(self, payload: tuple[A, A], start: int, stop: int | None) -> tuple[A, A]:
        kv: Any = payload[0]
        hidden: Any = payload[1]
        return (
            self._contiguous(kv[:, :, :, start:stop]),
            self._contiguous(hidden[start:stop]),
        )

    def match(self, ids: Sequence[int], *, touch: bool = True) -> KVMatch[A]:
        m = super().match(ids, touch=touch)
        return KVMatch(m.segments, m.length)

    def insert(self, ids: Sequence[int], start: int, kv: A, hidden: A) -> None:
        """Store positions ``start..len(ids)-1`` of ``ids`` (``ids[:start]`` must be cached).

        ``kv`` is ``(layers, 2, kv_heads, len(ids) - start, head_dim)`` and ``hidden``
        ``(len(ids) - start, hidden_size)``; both must be arrays the cache may keep (fresh copies,
        not views of a larger batch array).
        """
        self.put(ids, start, (kv, hidden))


__all__ = ["CacheStats", "KVMatch", "PrefixCache"]
