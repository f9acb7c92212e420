"""Integration on the real embedded SmolLM2-135M-Instruct (slow: loads the model, ~1 minute)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    from mctd_chat.backends import load_lm
    from mctd_chat.engine import Engine

    return Engine(load_lm("default", threads=1, progress=False), "default")


def test_greedy_answers_paris(engine) -> None:
    from mctd_chat.settings import Settings

    msgs = [{"role": "user", "content": "What is the capital of France?"}]
    pieces: list[str] = []
    a = engine.reply(msgs, Settings(max_tokens=24), on_text=pieces.append)
    assert "Paris" in a.text and "".join(pieces) == a.text
    # greedy: the prompt's distribution read once, every token but the last fed once
    assert a.cost.nfe == a.cost.greedy_nfe == len(a.tokens)


def test_search_with_json_reward_parses(engine) -> None:
    from mctd_chat.settings import Settings

    msgs = [
        {
            "role": "user",
            "content": 'Reply with only a JSON object like {"city": "...", "country": "..."} '
            "for the capital of Italy.",
        }
    ]
    s = Settings(method="maxent_ts", budget=600, reward="json", max_tokens=24)
    a = engine.reply(msgs, s)
    json.loads(a.text)
    assert a.cost.reward == 1.0 and a.cost.nfe <= 600 + 4 * 24 + 64
