"""The radix tree alone: matching, splitting, LRU eviction (kv holds the token ids themselves)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

import mlx.core as mx
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_tree.lm import PrefixCache

pytestmark = pytest.mark.mlx


def _kv(tokens) -> tuple[mx.array, mx.array]:
    """A fake kv (1, 2, 1, n, 1) and hidden (n, 1) whose entries are the tokens."""
    a = mx.array(np.asarray(tokens, np.float32))
    return mx.broadcast_to(a.reshape(1, 1, 1, -1, 1), (1, 2, 1, len(tokens), 1)), a.reshape(-1, 1)


def _insert(cache: PrefixCache, seq: tuple[int, ...]) -> None:
    m = cache.match(seq)
    if m.length < len(seq):
        cache.insert(seq, m.length, *_kv(seq[m.length :]))


def _cached_tokens(cache: PrefixCache, seq: tuple[int, ...]) -> list[int]:
    m = cache.match(seq)
    if not m.segments:
        return []
    kv = mx.concatenate(m.kv_pieces(), axis=3)
    return [int(x) for x in np.array(kv[0, 0, 0, :, 0])]


def test_insert_split_and_match() -> None:
    c = PrefixCache(100, mx.contiguous)
    _insert(c, (1, 2, 3, 4))
    _insert(c, (1, 2, 9))
    assert (c.positions, c.nodes) == (5, 3)  # (1,2) split off, then (3,4) and (9,)
    assert c.match((1, 2, 3, 7)).length == 3
    assert _cached_tokens(c, (1, 2, 9, 9)) == [1, 2, 9]
    assert float(c.match((1, 2, 3)).last_hidden()[0]) == 3.0
    _insert(c, (1, 2, 3, 4))  # already there: nothing changes
    assert c.positions == 5


def test_eviction_keeps_recent_and_complete_prefixes() -> None:
    c = PrefixCache(8, mx.contiguous)
    _insert(c, (1, 2, 3, 4))
    _insert(c, (1, 2, 5, 6))
    c.match((1, 2, 5, 6))  # touch: (3, 4) is now the least recently used leaf
    _insert(c, (7, 8, 9))
    assert c.positions == 9
    assert c.evict() == 2
    assert c.positions == 7 and c.evicted_positions == 2
    assert c.match((1, 2, 3, 4)).length == 2
    assert c.match((1, 2, 5, 6)).length == 4
    assert _cached_tokens(c, (7, 8, 9)) == [7, 8, 9]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=7), min_size=1, max_size=12))
def test_matches_longest_common_prefix(seqs: list[list[int]]) -> None:
    c = PrefixCache(10_000, mx.contiguous)
    seen: list[tuple[int, ...]] = []
    for s in map(tuple, seqs):
        _insert(c, s)
        seen.append(s)
        for q in seen:
            assert c.match(q).length == len(q)
            assert _cached_tokens(c, q) == list(q)
    distinct = {s[:i] for s in seen for i in range(1, len(s) + 1)}
    assert c.positions == len(distinct)


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=7), min_size=1, max_size=12),
    st.integers(1, 12),
)
def test_eviction_bound_and_integrity(seqs: list[list[int]], bound: int) -> None:
    c = PrefixCache(bound, mx.contiguous)
    for s in map(tuple, seqs):
        _insert(c, s)
        c.evict()
        assert c.positions <= bound
        stack = [c.root]
        total = 0
        while stack:  # every node is reachable from the root and holds its own tokens
            node = stack.pop()
            for child in node.children.values():
                assert child.parent is node
                total += len(child.tokens)
                stack.append(child)
        assert total == c.positions
