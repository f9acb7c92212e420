"""A radix tree of token prefixes with opaque per-node payloads and LRU eviction of leaves.

Each node owns one segment of tokens (the positions it adds to its parent's prefix) and a payload
covering exactly those positions (e.g. keys/values and hidden states). A position is stored once
however many prefixes share it. ``max_positions`` bounds the cached positions; `evict` drops
least-recently-used leaves (a node goes only once its descendants are gone, so every cached prefix
stays complete). Subclasses say how to cut a payload (`_slice`); the tree never looks inside one.
"""

from __future__ import annotations

import heapq
import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

P = TypeVar("P")


class Node(Generic[P]):
    """One segment: ``tokens``, its ``payload`` (None at the root and once evicted), LRU tick."""

    __slots__ = ("children", "parent", "payload", "tick", "tokens")

    def __init__(
        self, tokens: tuple[int, ...], payload: P | None, parent: Node[P] | None, tick: int
    ) -> None:
        self.tokens = tokens
        self.payload = payload
        self.parent = parent
        self.children: dict[int, Node[P]] = {}
        self.tick = tick


@dataclass
class Match(Generic[P]):
    """The cached part of a prefix: ``(node, positions used)`` pairs from the root; its length."""

    segments: list[tuple[Node[P], int]]
    length: int


@dataclass
class CacheStats:
    positions: int
    nodes: int
    max_positions: int
    evicted_positions: int


class PrefixTree(ABC, Generic[P]):
    """Radix tree keyed by token ids; LRU eviction of leaves beyond ``max_positions``."""

    def __init__(self, max_positions: int) -> None:
        if max_positions < 1:
            raise ValueError(f"max_positions must be >= 1, got {max_positions}")
        self.max_positions = max_positions
        self._ticks = itertools.count(1)
        self.root: Node[P] = Node((), None, None, 0)
        self.positions = 0
        self.nodes = 0
        self.evicted_positions = 0

    @abstractmethod
    def _slice(self, payload: P, start: int, stop: int | None) -> P:
        """Positions ``start:stop`` of ``payload`` as a payload the tree may keep."""

    def clear(self) -> None:
        self.root = Node((), None, None, 0)
        self.positions = 0
        self.nodes = 0

    def stats(self) -> CacheStats:
        return CacheStats(self.positions, self.nodes, self.max_positions, self.evicted_positions)

    def match(self, ids: Sequence[int], *, touch: bool = True) -> Match[P]:
        """Longest cached prefix of ``ids``; marks the nodes on the way as recently used."""
        node = self.root
        pos = 0
        segments: list[tuple[Node[P], int]] = []
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

    def put(self, ids: Sequence[int], start: int, payload: P) -> None:
        """Store positions ``start..len(ids)-1`` of ``ids`` (``ids[:start]`` must be cached)."""
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
            payload = self._slice(payload, off, None)
        tokens = tuple(int(t) for t in ids[m.length :])
        child = Node(tokens, payload, parent, next(self._ticks))
        parent.children[tokens[0]] = child
        self.positions += len(tokens)
        self.nodes += 1

    def _split(self, node: Node[P], at: int) -> Node[P]:
        """Cut ``node`` after ``at`` tokens; return the new upper part (``node`` keeps the rest)."""
        assert node.payload is not None and node.parent is not None
        upper = Node(node.tokens[:at], self._slice(node.payload, 0, at), node.parent, node.tick)
        node.parent.children[node.tokens[0]] = upper
        node.tokens = node.tokens[at:]
        node.payload = self._slice(node.payload, at, None)
        node.parent = upper
        upper.children[node.tokens[0]] = node
        self.nodes += 1
        return upper

    def evict(self) -> int:
        """Drop least-recently-used leaves until at most ``max_positions`` remain; return count."""
        if self.positions <= self.max_positions:
            return 0
        heap: list[tuple[int, int, Node[P]]] = []
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
            node.payload = None
            if parent is not self.root and not parent.children:
                heapq.heappush(heap, (parent.tick, id(parent), parent))
        self.evicted_positions += dropped
        return dropped


def _lcp(a: Sequence[int], b: Sequence[int], start: int) -> int:
    n = min(len(a), len(b))
    i = start
    while i < n and a[i] == b[i]:
        i += 1
    return i


Target = tuple[tuple[int, ...], Match[P]]


def round_targets(todo: list[Target[P]]) -> list[Target[P]]:
    """Targets of one prefill round: no two share an uncached position.

    Prefixes whose first uncached token (and everything before it) agree form a group; each is cut
    at its nearest divergence from another member of its group (or kept whole if none).
    """
    groups: dict[tuple[int, ...], list[Target[P]]] = {}
    for s, m in todo:
        groups.setdefault(s[: m.length + 1], []).append((s, m))
    out: dict[tuple[int, ...], Match[P]] = {}
    for members in groups.values():
        for s, m in members:
            cut = len(s)
            for s2, _ in members:
                if s2 is not s:
                    cut = min(cut, _lcp(s, s2, m.length + 1))
            out.setdefault(s[:cut], m)
    return list(out.items())


def prefill_chunks(
    tree: PrefixTree[P], seqs: list[tuple[int, ...]], budget: int
) -> Iterator[list[Target[P]]]:
    """Chunks of targets covering every uncached position of ``seqs``, each computed exactly once.

    Prefixes that share uncached tokens are computed in rounds: first up to the point where they
    diverge (one target per group), then their own tails. A chunk's (padded) width times its size
    stays within ``budget`` unless it is a single target. The caller must cache each chunk before
    asking for the next.
    """
    pending = list(dict.fromkeys(seqs))
    while pending:
        todo = []
        for s in pending:
            m = tree.match(s, touch=False)
            if m.length < len(s):
                todo.append((s, m))
        if not todo:
            return
        targets = round_targets(todo)
        targets.sort(key=lambda tm: len(tm[0]) - tm[1].length)
        start = 0
        while start < len(targets):
            end = start + 1
            while end < len(targets):
                width = len(targets[end][0]) - targets[end][1].length
                if (end + 1 - start) * width > budget:
                    break
                end += 1
            yield targets[start:end]
            start = end
        pending = [s for s, _ in todo]
