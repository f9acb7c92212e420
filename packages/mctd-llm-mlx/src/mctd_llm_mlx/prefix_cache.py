"""A radix tree of token prefixes holding their key/values and final hidden states (MLX arrays).

Same structure and policy as mctd-llm-torch's ``PrefixCache``. Each node owns one segment of
tokens (the positions it adds to its parent's prefix) with

- ``kv``: keys and values of those positions, shape ``(layers, 2, kv_heads, n, head_dim)``;
- ``hidden``: the final (post-norm) hidden states, shape ``(n, hidden_size)``, so that the
  next-token distribution after any cached prefix costs one ``lm_head`` product, not a forward.

MLX arrays are immutable values here: a node's arrays are fresh copies, never views into a live
mlx-lm ``KVCache`` buffer (those are written in place), so siblings never share mutable state and a
stored node never pins a whole batch buffer. A position is stored once however many prefixes share
it. The bound is ``max_positions`` cached positions in total (each costs
``layers * 2 * kv_heads * head_dim + hidden_size`` numbers of the model's dtype; about 48 KB in fp32
for SmolLM2-135M). When a call leaves more than that, least-recently-used leaves are evicted (a
node is only evicted once its descendants are gone, so every cached prefix stays complete).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import mlx.core as mx


class _Node:
    __slots__ = ("children", "hidden", "kv", "parent", "tick", "tokens")

    def __init__(
        self,
        tokens: tuple[int, ...],
        kv: mx.array | None,
        hidden: mx.array | None,
        parent: _Node | None,
        tick: int,
    ) -> None:
        self.tokens = tokens
        self.kv = kv
        self.hidden = hidden
        self.parent = parent
        self.children: dict[int, _Node] = {}
        self.tick = tick


@dataclass
class Match:
    """The cached part of a prefix: ``(node, positions used)`` pairs from the root; its length."""

    segments: list[tuple[_Node, int]]
    length: int

    def last_hidden(self) -> mx.array:
        node, used = self.segments[-1]
        assert node.hidden is not None
        return node.hidden[used - 1]

    def kv_pieces(self) -> list[mx.array]:
        """The ``(layers, 2, kv_heads, n, head_dim)`` pieces covering the matched positions."""
        out = []
        for node, used in self.segments:
            assert node.kv is not None
            out.append(node.kv if used == len(node.tokens) else node.kv[:, :, :, :used])
        return out


@dataclass
class CacheStats:
    positions: int
    nodes: int
    max_positions: int
    evicted_positions: int


class PrefixCache:
    """Radix tree keyed by token ids; LRU eviction of leaves beyond ``max_positions``."""

    def __init__(self, max_positions: int) -> None:
        if max_positions < 1:
            raise ValueError(f"max_positions must be >= 1, got {max_positions}")
        self.max_positions = max_positions
        self._ticks = itertools.count(1)
        self.root = _Node((), None, None, None, 0)
        self.positions = 0
        self.nodes = 0
        self.evicted_positions = 0

    def clear(self) -> None:
        self.root = _Node((), None, None, None, 0)
        self.positions = 0
        self.nodes = 0

    def stats(self) -> CacheStats:
        return CacheStats(self.positions, self.nodes, self.max_positions, self.evicted_positions)

    def match(self, ids: Sequence[int], *, touch: bool = True) -> Match:
        """Longest cached prefix of ``ids``; marks the nodes on the way as recently used."""
        node = self.root
        pos = 0
        segments: list[tuple[_Node, int]] = []
        tick = next(self._ticks) if touch else 0
        n = len(ids)
        while pos < n:
            child = node.children.get(ids[pos])
            if child is None:
                break
            seg = child.tokens
            used = 1
            limit = min(len(seg), n - pos)
            while used < limit and seg[used] == ids[pos + used]:
                used += 1
            segments.append((child, used))
            if touch:
                child.tick = tick
            pos += used
            if used < len(seg):
                break
            node = child
        return Match(segments, pos)

    def insert(self, ids: Sequence[int], start: int, kv: mx.array, hidden: mx.array) -> None:
        """Store positions ``start..len(ids)-1`` of ``ids`` (``ids[:start]`` must be cached).

        ``kv`` is ``(layers, 2, kv_heads, len(ids) - start, head_dim)`` and ``hidden``
        ``(len(ids) - start, hidden_size)``; both must be arrays the cache may keep (fresh copies,
        not views of a larger batch array, which would keep the whole batch alive).
        """
        m = self.match(ids)
        if m.length >= len(ids):
            return  # already cached (e.g. two rows of one batch produced the same tokens)
        if m.length < start:
            raise RuntimeError("PrefixCache.insert: the parent prefix is not cached")
        parent = self.root
        if m.segments:
            node, used = m.segments[-1]
            parent = self._split(node, used) if used < len(node.tokens) else node
        off = m.length - start
        if off:
            kv = mx.contiguous(kv[:, :, :, off:])
            hidden = mx.contiguous(hidden[off:])
        tokens = tuple(int(t) for t in ids[m.length :])
        child = _Node(tokens, kv, hidden, parent, next(self._ticks))
        parent.children[tokens[0]] = child
        self.positions += len(tokens)
        self.nodes += 1

    def _split(self, node: _Node, at: int) -> _Node:
        """Cut ``node`` after ``at`` tokens; return the new upper part (``node`` is the lower)."""
        assert node.kv is not None and node.hidden is not None and node.parent is not None
        upper = _Node(
            node.tokens[:at],
            mx.contiguous(node.kv[:, :, :, :at]),
            mx.contiguous(node.hidden[:at]),
            node.parent,
            node.tick,
        )
        node.parent.children[node.tokens[0]] = upper
        node.tokens = node.tokens[at:]
        node.kv = mx.contiguous(node.kv[:, :, :, at:])
        node.hidden = mx.contiguous(node.hidden[at:])
        node.parent = upper
        upper.children[node.tokens[0]] = node
        self.nodes += 1
        return upper

    def evict(self) -> int:
        """Drop least-recently-used leaves until at most ``max_positions`` remain; return count."""
        if self.positions <= self.max_positions:
            return 0
        heap: list[tuple[int, int, _Node]] = []
        stack = list(self.root.children.values())
        while stack:
            node = stack.pop()
            if node.children:
                stack.extend(node.children.values())
            else:
                heap.append((node.tick, id(node), node))
        heapq.heapify(heap)
        dropped = 0
        while self.positions > self.max_positions and heap:
            _, _, node = heapq.heappop(heap)
            parent = node.parent
            assert parent is not None
            del parent.children[node.tokens[0]]
            self.positions -= len(node.tokens)
            self.nodes -= 1
            dropped += len(node.tokens)
            node.kv = node.hidden = None
            if parent is not self.root and not parent.children:
                heapq.heappush(heap, (parent.tick, id(parent), parent))
        self.evicted_positions += dropped
        return dropped
