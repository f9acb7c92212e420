"""`PrefixTree` alone, with numpy payloads holding the token ids themselves."""

from __future__ import annotations

import numpy as np
import pytest
from mctd_tree.lm import PrefixTree, prefill_chunks
from mctd_tree.lm.prefix_tree import round_targets


class Tree(PrefixTree[np.ndarray]):
    def _slice(self, payload: np.ndarray, start: int, stop: int | None) -> np.ndarray:
        return payload[start:stop].copy()


def put(t: Tree, seq: tuple[int, ...]) -> None:
    m = t.match(seq)
    if m.length < len(seq):
        t.put(seq, m.length, np.asarray(seq[m.length :]))


def cached(t: Tree, seq: tuple[int, ...]) -> list[int]:
    out: list[int] = []
    for node, used in t.match(seq).segments:
        assert node.payload is not None
        out += [int(x) for x in node.payload[:used]]
    return out


def test_insert_split_and_match() -> None:
    t = Tree(100)
    put(t, (1, 2, 3, 4))
    put(t, (1, 2, 9))
    assert (t.positions, t.nodes) == (5, 3)  # (1,2) split off, then (3,4) and (9,)
    assert t.match((1, 2, 3, 7)).length == 3
    assert cached(t, (1, 2, 9, 9)) == [1, 2, 9]
    assert cached(t, (1, 2, 3, 4)) == [1, 2, 3, 4]
    put(t, (1, 2, 3, 4))  # already there: nothing changes
    assert t.positions == 5
    t.put((1, 2, 3, 4, 5, 6), 3, np.asarray([4, 5, 6]))  # payload starts before the cached end
    assert cached(t, (1, 2, 3, 4, 5, 6)) == [1, 2, 3, 4, 5, 6] and t.positions == 7


def test_errors_and_clear() -> None:
    with pytest.raises(ValueError, match="max_positions must be >= 1, got 0"):
        Tree(0)
    t = Tree(10)
    with pytest.raises(RuntimeError, match="parent prefix is not cached"):
        t.put((1, 2, 3), 2, np.asarray([3]))
    put(t, (1, 2))
    t.clear()
    assert (t.positions, t.nodes, t.match((1, 2)).length) == (0, 0, 0)


def test_eviction_keeps_recent_and_complete_prefixes() -> None:
    t = Tree(8)
    put(t, (1, 2, 3, 4))
    put(t, (1, 2, 5, 6))
    t.match((1, 2, 5, 6))  # touch: (3, 4) is now the least recently used leaf
    t.match((1, 2, 3, 4), touch=False)  # no touch
    put(t, (7, 8, 9))
    assert t.evict() == 2
    stats = t.stats()
    assert (stats.positions, stats.nodes, stats.evicted_positions) == (7, 3, 2)
    assert t.match((1, 2, 3, 4)).length == 2
    assert t.match((1, 2, 5, 6)).length == 4
    assert t.evict() == 0


def test_eviction_climbs_to_emptied_parents() -> None:
    t = Tree(1)
    put(t, (1, 2, 3))
    put(t, (1, 2, 4))
    assert t.evict() == 4 and (t.positions, t.nodes) == (0, 0)


def test_round_targets_split_at_divergence() -> None:
    t = Tree(100)
    put(t, (1,))
    todo = [(s, t.match(s)) for s in [(1, 2, 3, 4), (1, 2, 3, 5), (1, 7)]]
    assert sorted(s for s, _ in round_targets(todo)) == [(1, 2, 3), (1, 7)]


def test_prefill_chunks_compute_each_position_once() -> None:
    t = Tree(100)
    seqs = [(1, 2, 3, 4), (1, 2, 3, 5), (1, 2), (6,), (1, 2, 3, 4)]
    fed = 0
    sizes = []
    for chunk in prefill_chunks(t, seqs, budget=4):
        sizes.append(len(chunk))
        for s, _ in chunk:
            m = t.match(s)
            fed += len(s) - m.length
            t.put(s, m.length, np.asarray(s[m.length :]))
    assert fed == t.positions == 6
    assert all(t.match(s).length == len(s) for s in seqs)
    assert max(sizes) <= 4
