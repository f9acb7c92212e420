"""`decode_steps`: the one decode loop (ragged caps, stops, counters, the sampling order)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from mctd_tree.lm import Rows, decode_steps, sample_tokens
from mctd_tree.problems.toy_lm import ToyLM
from mctd_tree.protocols import Counters


class TableBatch:
    """A `DecodeBatch` over a `ToyLM`'s exact table that records every call it gets."""

    def __init__(self, lm: ToyLM, rows: list[tuple[int, ...]], out: Rows) -> None:
        self.lm, self.rows, self.out = lm, rows, out
        self.fed: list[tuple[int, list[int]]] = []
        self.kept: list[list[int]] = []
        self.stored: list[tuple[list[int], int, list[tuple[int, ...]]]] = []

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        assert [self.out.toks[i][t] for i in rows] == ids.tolist()  # token t of each row
        self.fed.append((t, list(rows)))
        seqs = [self.rows[i] + tuple(self.out.toks[i]) for i in rows]
        return np.stack([self.lm.logprobs_of(s) for s in seqs]), 10 * len(rows)

    def keep(self, going: Sequence[int]) -> None:
        self.kept.append(list(going))

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        self.stored.append((list(rows), fed, [tuple(t[:fed]) for t in toks]))


def start(lm: ToyLM, rows: list[tuple[int, ...]], caps: list[int], stop: Sequence[str] = ()):  # type: ignore[no-untyped-def]
    out = Rows(caps, lm.eos_token_ids, stop, lm.decode, window=False)
    lp = np.stack([lm.logprobs_of(r) for r in rows])
    return out, TableBatch(lm, rows, out), lp


def test_ragged_caps_counters_and_stores() -> None:
    lm = ToyLM(6, seed=3, eos_bias=-60.0)  # EOS never drawn: every row runs to its cap
    rows = [(1, 2), (3,), (4, 5, 1)]
    caps = [1, 4, 2]
    out, batch, lp = start(lm, rows, caps)
    counters = Counters()
    steps = list(decode_steps(batch, lp, out, np.random.default_rng(0), counters))
    assert [s.rows for s in steps] == [[0, 1, 2], [1, 2], [1], [1]]
    assert [s.done for s in steps] == [[0], [2], [], [1]]
    assert [len(t) for t in out.toks] == caps and out.reason == ["length"] * 3
    # one feed per step that leaves a row going; each row feeds all its tokens but the last
    assert [(t, r) for t, r in batch.fed] == [(0, [1, 2]), (1, [1]), (2, [1])]
    assert counters.calls == 3 and counters.nfe == 10 * (sum(caps) - len(caps))
    assert batch.kept == [[1, 2], [0]]  # batch positions after each finish
    assert batch.stored == [([2], 1, [tuple(out.toks[2][:1])]), ([1], 3, [tuple(out.toks[1][:3])])]
    for s in steps:  # a step reports the raw log-prob of each drawn token
        for i, tok, lpv in zip(s.rows, s.tokens, s.logprobs, strict=True):
            seq = rows[i] + tuple(out.toks[i][: s.t])
            assert lpv == pytest.approx(lm.logprobs_of(seq)[tok])


def test_same_random_numbers_as_the_reference_loop() -> None:
    lm = ToyLM(7, seed=5)
    rows = [(1, 2, 3), (2,), (6, 6)]
    out, batch, lp = start(lm, rows, [6, 6, 3])
    list(decode_steps(batch, lp, out, np.random.default_rng(11), Counters(), temperature=0.8))
    # reference: per step one draw for the active rows in row order, the rule of every backend
    rng = np.random.default_rng(11)
    toks: list[list[int]] = [[], [], []]
    active = [0, 1, 2]
    caps = [6, 6, 3]
    while active:
        lps = np.stack([lm.logprobs_of(rows[i] + tuple(toks[i])) for i in active])
        drawn, _ = sample_tokens(lps, rng, temperature=0.8)
        for i, tok in zip(active, drawn, strict=True):
            toks[i].append(int(tok))
        active = [i for i in active if toks[i][-1] != 0 and len(toks[i]) < caps[i]]
    assert out.toks == toks


def test_stop_string_ends_only_its_row() -> None:
    lm = ToyLM(6, seed=2, eos_bias=-60.0)
    rows = [(1, 2), (1, 2)]
    ref, batch, lp = start(lm, rows, [6, 6])
    list(decode_steps(batch, lp, ref, np.random.default_rng(0), Counters(), temperature=0))
    text = lm.decode(ref.toks[0])
    stop = text[2:4]  # greedy: both rows draw the same text; stop after its 4th letter
    first = text.find(stop) + len(stop)
    out, batch, lp = start(lm, rows, [6, 3], stop=[stop])
    list(decode_steps(batch, lp, out, np.random.default_rng(0), Counters(), temperature=0))
    assert lm.decode(out.toks[0]) == text[:first] and out.reason[0] == "stop"
    assert len(out.toks[1]) == min(3, first)


def test_a_consumer_that_stops_early_pays_no_further_forward() -> None:
    lm = ToyLM(6, seed=1)
    out, batch, lp = start(lm, [(1, 2)], [5])
    counters = Counters()
    gen = decode_steps(batch, lp, out, np.random.default_rng(0), counters)
    first = next(gen)
    assert first.t == 0 and counters.calls == 0 and batch.fed == []
    gen.close()


def test_toy_lm_generate_is_the_decode_loop() -> None:
    lm = ToyLM(8, seed=4)
    rows = [(1, 2, 3), (4,)]
    gens = lm.generate(rows, np.random.default_rng(3), max_new_tokens=[5, 2], temperature=1.2)
    out, batch, lp = start(lm, [tuple(r) for r in rows], [5, 2])
    list(decode_steps(batch, lp, out, np.random.default_rng(3), Counters(), temperature=1.2))
    assert [g.tokens for g in gens] == out.toks
    fed = sum(len(g.tokens) - 1 for g in gens)
    # prefill 4 positions (2 calls: ragged rows, one padded), 2 reads... then one per fed token
    assert lm.counters.nfe - lm.counters.padded - lm.counters.reads == 4 + fed
