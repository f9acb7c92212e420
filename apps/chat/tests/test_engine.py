"""The engine: streamed decoding equals one generate call, honest counters, every method runs,
the live status matches the search's own statistics, and bad input fails clearly."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import tiny_chat_lm
from mctd_chat.engine import Engine, decode
from mctd_chat.errors import ContextError, SettingsError
from mctd_chat.methods import METHODS
from mctd_chat.settings import Settings

MSGS = [{"role": "user", "content": "give me json"}]


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_decode_matches_generate(temperature: float) -> None:
    a, b = tiny_chat_lm(), tiny_chat_lm()
    prompt = a.chat_prompt(MSGS)
    pieces: list[str] = []
    toks, _ = decode(
        a,
        prompt,
        np.random.default_rng(5),
        max_new_tokens=30,
        temperature=temperature,
        on_text=pieces.append,
    )
    gen = b.generate([prompt], np.random.default_rng(5), max_new_tokens=30, temperature=temperature)
    assert toks == gen[0].tokens
    assert a.counters.nfe == b.counters.nfe  # same positions fed, token by token or at once
    assert "".join(pieces) == a.decode([t for t in toks if t not in a.eos_token_ids])


def test_decode_stop_string_is_cut_and_never_streamed() -> None:
    lm = tiny_chat_lm()
    prompt = lm.chat_prompt(MSGS)
    full, _ = decode(lm, prompt, np.random.default_rng(0), max_new_tokens=20, temperature=0)
    text = lm.decode(full)
    stop = text[4:6]
    pieces: list[str] = []
    _, reason = decode(
        lm,
        prompt,
        np.random.default_rng(0),
        max_new_tokens=20,
        temperature=0,
        stop=[stop],
        on_text=pieces.append,
    )
    assert reason == "stop"
    assert "".join(pieces) == text[: text.find(stop)]


def test_greedy_counters_closed_form() -> None:
    lm = tiny_chat_lm()
    e = Engine(lm)
    a = e.reply(MSGS, Settings(method="greedy", reward="json", max_tokens=12))
    prompt = lm.chat_prompt(MSGS)
    c = a.cost
    assert c.prompt_tokens == len(prompt) and c.prompt_nfe == len(prompt)
    assert len(a.tokens) == 12 and a.finish_reason == "length"
    assert c.nfe == len(a.tokens) == c.greedy_nfe and c.vs_greedy == 1.0
    assert c.completion_tokens == 12
    # a second turn over the same prefix computes no position again (no forward call): it pays
    # only the head reads of distributions taken from cached positions (mctd-tree's `reads`)
    again = e.reply(MSGS, Settings(method="greedy", reward="json", max_tokens=12))
    assert again.cost.calls == 0 and again.text == a.text
    assert again.cost.prompt_nfe == 1 and again.cost.nfe == len(a.tokens)


@pytest.mark.parametrize("name", [m for m in METHODS if METHODS[m].search is not None])
def test_search_methods(name: str) -> None:
    lm = tiny_chat_lm()
    seen = []
    a = Engine(lm).reply(
        MSGS,
        Settings(method=name, budget=150, reward="json", max_tokens=6),
        on_progress=seen.append,
    )
    m = METHODS[name]
    assert seen, "the live status was never updated"
    last = seen[-1]
    assert last.nfe == a.cost.nfe  # the status line's NFE is the model's own counter
    assert last.best_reward == pytest.approx(a.cost.reward)
    if m.tree:
        assert last.nodes == a.cost.nodes  # live node count = the tree's materialised nodes
    if m.budgeted:
        assert a.cost.nfe < 150 + 4 * 6 + 64  # within one iteration's overshoot
    assert a.cost.reward == pytest.approx(float(np.clip(a.cost.reward, 0, 1)))


def test_search_finds_parsing_json() -> None:
    import json

    a = Engine(tiny_chat_lm()).reply(
        MSGS, Settings(method="mcts", budget=1000, reward="json", max_tokens=4)
    )
    json.loads(a.text)
    assert a.cost.reward == 1.0


def test_bad_input() -> None:
    e = Engine(tiny_chat_lm())
    with pytest.raises(SettingsError, match="unknown method 'nope'"):
        Settings(method="nope")
    with pytest.raises(SettingsError, match="budget must be an integer >= 1"):
        Settings(budget=0)
    with pytest.raises(SettingsError, match="temperature"):
        Settings(temperature=float("nan"))
    with pytest.raises(ContextError, match="context is 128"):
        e.reply([{"role": "user", "content": "x" * 200}], Settings())


def test_live_problem_delegates_the_rest() -> None:
    from mctd_chat.live import LiveProblem
    from mctd_tree.problems.tokens import TokenSearchProblem

    lm = tiny_chat_lm()
    p = TokenSearchProblem(lm, lm.chat_prompt(MSGS), lambda xs: np.zeros(len(xs)))
    live = LiveProblem(p, "mcts", budget=10, tree=True, keeps_rollouts=False, on_progress=None)
    assert live.prefix((3,)) == p.prefix((3,)) and live.max_new_tokens == p.max_new_tokens
    with pytest.raises(AttributeError):
        _ = live.no_such_attribute
