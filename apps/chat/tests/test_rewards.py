"""Rewards: spec parsing, closed-form scores, the python: contract, the likelihood's arithmetic."""

from __future__ import annotations

import math

import chat_rewards
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mctd_chat.errors import RewardError, SettingsError
from mctd_chat.rewards import (
    LikelihoodReward,
    RewardSpec,
    build_reward,
    json_score,
    length_score,
    parse_reward,
    regex_score,
)
from mctd_tree.lm.likelihood import FLOOR
from mctd_tree.problems.toy_lm import ToyLM

CONV = [{"role": "user", "content": "hi"}]


def reward(spec: str, schema=None, lm=None):
    return build_reward(parse_reward(spec), lm or ToyLM(), [1, 2], CONV, schema)


def test_parse() -> None:
    assert parse_reward("likelihood") == RewardSpec("likelihood")
    assert parse_reward(" regex  a+ b ") == RewardSpec("regex", "a+ b")
    assert parse_reward("length 12") == RewardSpec("length", "12")
    assert parse_reward("python:chat_rewards:vowels") == RewardSpec("python", "chat_rewards:vowels")


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("bleu", "unknown reward 'bleu'"),
        ("", "non-empty"),
        ("regex", "needs a pattern"),
        ("regex (", "invalid regex"),
        ("length 0", "word count >= 1"),
        ("length x", "word count >= 1"),
        ("json extra", "takes no argument"),
        ("python:onlymodule", "python:module:function"),
    ],
)
def test_parse_errors(spec: str, match: str) -> None:
    with pytest.raises(SettingsError, match=match):
        parse_reward(spec)


def test_json_scores() -> None:
    assert json_score(' {"a": [1, 2]} ', None) == 1.0
    assert json_score("12", None) == 1.0
    assert json_score("", None) == 0.0
    assert json_score("```json", None) == 0.0
    # "Extra data" at position 2 of 4 characters
    assert json_score("12ab", None) == pytest.approx(0.5 * 2 / 4)


def test_json_schema() -> None:
    schema = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    r = reward("json", schema)
    assert list(r(['{"name": "x"}', '{"age": 3}', "nope"])) == [1.0, 0.5, 0.0]
    with pytest.raises(SettingsError, match="invalid JSON schema"):
        reward("json", {"type": "no-such-type"})
    with pytest.raises(SettingsError, match="only applies to the json reward"):
        reward("regex a", schema)


def test_regex_and_length() -> None:
    import re

    p = re.compile(r"\d+")
    assert regex_score(" 123 ", p) == 1.0
    assert regex_score("a 12 b", p) == 0.5
    assert regex_score("none", p) == 0.0
    assert length_score("one two three", 3) == 1.0
    assert length_score("one", 3) == pytest.approx(1 / 3)
    assert length_score("a " * 10, 3) == 0.0


@given(st.text(max_size=40), st.integers(1, 20))
def test_length_in_unit_interval(text: str, n: int) -> None:
    assert 0.0 <= length_score(text, n) <= 1.0
    assert (length_score(text, n) == 1.0) == (len(text.split()) == n)


def test_python_reward_sees_completion_and_conversation_only() -> None:
    chat_rewards.SEEN.clear()
    r = reward("python:chat_rewards:vowels")
    out = r(["aab", "xyz"])
    assert list(out) == [pytest.approx(2 / 3), 0.0]
    assert chat_rewards.SEEN == [("aab", CONV), ("xyz", CONV)]
    # the function gets a copy: mutating it changes nothing for the next call
    m = reward("python:chat_rewards:mutates")
    m(["a"])
    assert m.conversation == CONV  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fn", "match"),
    [("raises", "raised RuntimeError: boom"), ("nan", "returned nan")],
)
def test_python_reward_failures(fn: str, match: str) -> None:
    with pytest.raises(RewardError, match=match):
        reward(f"python:chat_rewards:{fn}")(["text"])


def test_python_reward_import_errors() -> None:
    with pytest.raises(SettingsError, match="cannot import 'no_such_module_xyz'"):
        reward("python:no_such_module_xyz:f")
    with pytest.raises(SettingsError, match="has no function 'missing'"):
        reward("python:chat_rewards:missing")


def test_likelihood_is_mean_token_logprob() -> None:
    lm = ToyLM(8, seed=3)
    prompt = [1, 2, 3]
    r = LikelihoodReward(lm, prompt)
    text = "bcd"  # tokens 2, 3, 4
    toks = lm.encode(text)
    expect = np.mean([lm.logprobs_of(prompt + toks[:j])[toks[j]] for j in range(len(toks))])
    got = r([text, ""])
    assert got[0] == pytest.approx(max(expect, FLOOR), rel=1e-6)
    assert got[1] == FLOOR
    assert all(math.isfinite(x) for x in got)
