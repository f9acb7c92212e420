"""A radix tree of token prefixes holding their key/values and final hidden states.

The tree and its LRU policy are `mctd_tree.lm.PrefixTree`; each node's payload is ``(kv, hidden)``
for the positions it adds to its parent's prefix:

- ``kv``: keys and values of those positions, shape ``(layers, 2, kv_heads, n, head_dim)``;
- ``hidden``: the final (post-norm) hidden states, shape ``(n, hidden_size)``, so that the
  next-token distribution after any cached prefix costs one ``lm_head`` product, not a forward.

The bound is ``max_positions`` cached positions in total (each costs
``layers * 2 * kv_heads * head_dim + hidden_size`` numbers of the model's dtype; about 48 KB in fp32
for SmolLM2-135M).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mctd_tree.lm.prefix_tree import CacheStats, PrefixTree
from mctd_tree.lm.prefix_tree import Match as _Match

Payload = tuple[torch.Tensor, torch.Tensor]


class Match(_Match[Payload]):
    """The cached part of a prefix: ``(node, positions used)`` pairs from the root; its length."""

    def last_hidden(self) -> torch.Tensor:
        node, used = self.segments[-1]
        assert node.payload is not None
        return node.payload[1][used - 1]


class PrefixCache(PrefixTree[Payload]):
    """Radix tree keyed by token ids; LRU eviction of leaves beyond ``max_positions``."""

    def _slice(self, payload: Payload, start: int, stop: int | None) -> Payload:
        kv, hidden = payload
        return kv[:, :, :, start:stop].contiguous(), hidden[start:stop].contiguous()

    def match(self, ids: Sequence[int], *, touch: bool = True) -> Match:
        m = super().match(ids, touch=touch)
        return Match(m.segments, m.length)

    def insert(
        self, ids: Sequence[int], start: int, kv: torch.Tensor, hidden: torch.Tensor
    ) -> None:
        """Store positions ``start..len(ids)-1`` of ``ids`` (``ids[:start]`` must be cached).

        ``kv`` is ``(layers, 2, kv_heads, len(ids) - start, head_dim)`` and ``hidden``
        ``(len(ids) - start, hidden_size)``; both must be tensors the cache may keep (not views
        of a larger batch tensor, which would keep the whole batch alive).
        """
        self.put(ids, start, (kv, hidden))


__all__ = ["CacheStats", "Match", "PrefixCache"]
