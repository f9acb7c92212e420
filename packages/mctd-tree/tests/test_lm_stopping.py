"""`Rows` (per-row stop and bookkeeping), `find_eos`, the argument checks and `WrappedLM`."""

from __future__ import annotations

import numpy as np
import pytest
from mctd_tree.lm import Rows, WrappedLM, check_max_new_tokens, check_prefix, find_eos
from mctd_tree.problems import ToyLM


def decode(ids: list[int]) -> str:
    return "".join(chr(ord("a") + i) for i in ids)


def test_rows_stop_reasons_and_results() -> None:
    rows = Rows([5, 5, 5, 1], frozenset({9}), "cd", decode)
    lp = np.log(np.full((4, 10), 0.1, np.float32))
    going, done = rows.step(np.array([9, 2, 0, 0]), lp)
    assert (going, done) == ([1, 2], [0, 3])
    rows.keep(going)
    assert rows.active == [1, 2]
    going, done = rows.step(np.array([3, 1]), lp[:2])
    assert (going, done) == ([1], [0])
    rows.keep(going)
    out = rows.results()
    assert [g.finish_reason for g in out] == ["eos", "stop", "length", "length"]
    assert [g.tokens for g in out] == [[9], [2, 3], [0, 1], [0]]
    assert out[1].logprobs.dtype == np.float32


def test_rows_window_only_sees_recent_tokens() -> None:
    windowed = Rows([50], (), ("b",), decode)  # window 1 + 8 tokens
    whole = Rows([50], (), ("b",), decode, window=False)
    lp = np.zeros((1, 5), np.float32)
    for r in (windowed, whole):
        r.toks[0] = [1] + [0] * 9  # a "b" ten tokens back
        r.step(np.array([0]), lp)
    assert windowed.active and windowed.reason[0] == "length"
    assert whole.reason[0] == "stop"


class Tok:
    all_special_tokens = ("</s>", "<pad>")

    def get_vocab(self) -> dict[str, int]:
        return {"</s>": 2, "<pad>": 0, "<|im_end|>": 7}


def test_find_eos() -> None:
    assert find_eos([5, [3, 99], None], Tok(), vocab_size=10) == {2, 3, 5}


def test_checks() -> None:
    check_max_new_tokens(np.int64(1))
    for bad in (0, 1.0, None):
        with pytest.raises(ValueError, match="max_new_tokens must be an integer >= 1"):
            check_max_new_tokens(bad)
    assert check_prefix([1, np.int64(2)], 5, 3) == (1, 2)
    with pytest.raises(ValueError, match="empty prompt"):
        check_prefix([], 5, 3)
    with pytest.raises(ValueError, match=r"context of 3 tokens \(leaving room"):
        check_prefix([1, 2, 3], 5, 3, generating=True)
    with pytest.raises(ValueError, match=r"token ids must be in \[0, 5\)"):
        check_prefix([5], 5, 3)


def test_wrapped_lm_delegates_and_counts_its_own() -> None:
    lm = ToyLM(5, max_context=9)
    w = WrappedLM(lm)
    assert (w.vocab_size, w.max_context, w.eos_token_ids) == (5, 9, frozenset({0}))
    assert w.decode(w.encode("abc")) == "abc" and w.chat_prompt([{"content": "ab"}]) == [1, 2]
    w.counters.nfe = 3
    w.reset_counters()
    assert w.counters.nfe == 0 and w.counters is not lm.counters
