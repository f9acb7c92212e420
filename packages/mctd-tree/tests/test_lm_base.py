"""`TokenizerLM`: the shared protocol surface over a tokenizer and a prefix tree."""

from __future__ import annotations

import numpy as np
import pytest
from mctd_tree.lm import PrefixTree, TokenizerLM
from mctd_tree.protocols import Counters


class Tok:
    def encode(self, text: str) -> list[int]:
        return [ord(c) - 96 for c in text]

    def decode(self, ids: list[int], skip_special_tokens: bool) -> str:
        return "".join(chr(i + 96) for i in ids)

    def apply_chat_template(self, messages, add_generation_prompt, tokenize):  # type: ignore[no-untyped-def]
        return {"input_ids": [np.int64(1), 2]}


class Tree(PrefixTree[np.ndarray]):
    def _slice(self, payload: np.ndarray, start: int, stop: int | None) -> np.ndarray:
        return payload[start:stop]


class LM(TokenizerLM):
    def __init__(self) -> None:
        self.tokenizer = Tok()
        self.cache = Tree(10)
        self.counters = Counters(nfe=3, calls=2)
        self._eos, self._vocab, self._max_context = frozenset({0}), 27, 4

    def _prefill(self, targets):  # type: ignore[no-untyped-def]
        for prefix, _ in targets:
            self.cache.put(tuple(prefix), 0, np.arange(len(prefix)))

    def _cached_logprobs(self, prefixes):  # type: ignore[no-untyped-def]
        return np.log(np.full((len(prefixes), self._vocab), 1 / self._vocab, np.float32))

    def _decode_batch(self, rows, steps):  # type: ignore[no-untyped-def]
        raise AssertionError("test_surface does not decode")


def test_surface() -> None:
    lm = LM()
    assert (lm.eos_token_ids, lm.vocab_size, lm.max_context) == ({0}, 27, 4)
    assert lm.encode("abc") == [1, 2, 3] and lm.decode([np.int64(3), 1]) == "ca"
    assert lm.chat_prompt([{"role": "user", "content": "x"}]) == [1, 2]
    lm.reset_counters()
    assert (lm.counters.nfe, lm.counters.calls) == (0, 0)
    lm.cache.put((1, 2), 0, np.arange(2))
    assert lm.cache_stats().positions == 2
    lm.clear_cache()
    assert lm.cache_stats().positions == 0
    assert lm._check_prefix([1, 2, 3], generating=True) == (1, 2, 3)
    with pytest.raises(ValueError, match="leaving room for one new token"):
        lm._check_prefix([1, 2, 3, 4], generating=True)
