"""The server through the official openai client on 127.0.0.1: plain, streamed and search
completions, usage against the model's counters, bad input, and a bounded load test."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest
from conftest import LiveServer
from helpers import tiny_chat_lm
from mctd_chat.engine import Engine
from mctd_chat.server import create_app
from mctd_chat.settings import Settings
from openai import BadRequestError, NotFoundError, OpenAI

ASK = [{"role": "user", "content": "give me json"}]


def test_models(client: OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["tiny"]


def test_plain_completion(client: OpenAI) -> None:
    r = client.chat.completions.create(model="tiny", messages=ASK, max_tokens=10, temperature=0)
    local = Engine(tiny_chat_lm()).reply(ASK, Settings(max_tokens=10))
    assert r.choices[0].message.content == local.text
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert (r.usage.prompt_tokens, r.usage.completion_tokens) == (local.cost.prompt_tokens, 10)
    assert r.usage.total_tokens == r.usage.prompt_tokens + 10
    assert r.model_extra is not None and r.model_extra["mctd"]["method"] == "greedy"


def test_streamed_completion(client: OpenAI) -> None:
    kw = {"model": "tiny", "messages": ASK, "max_tokens": 12, "temperature": 0}
    plain = client.chat.completions.create(**kw).choices[0].message.content
    chunks = list(
        client.chat.completions.create(**kw, stream=True, stream_options={"include_usage": True})
    )
    pieces = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(pieces) > 1  # token by token, not one block
    assert "".join(pieces) == plain
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finish[-1].choices[0].finish_reason == "length"
    assert finish[-1].model_extra is not None and "mctd" in finish[-1].model_extra
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 12


def test_search_with_json_reward_parses(client: OpenAI) -> None:
    r = client.chat.completions.create(
        model="tiny",
        messages=ASK,
        max_tokens=4,
        extra_body={"mctd": {"method": "mcts", "budget": 1000, "reward": "json"}},
    )
    text = r.choices[0].message.content or ""
    json.loads(text)
    mctd = r.model_extra["mctd"]  # type: ignore[index]
    assert mctd["reward"] == 1.0 and mctd["method"] == "mcts" and mctd["nodes"] > 1
    # streamed, a search sends its answer in one piece when it is done
    chunks = list(
        client.chat.completions.create(
            model="tiny",
            messages=ASK,
            max_tokens=4,
            stream=True,
            extra_body={"mctd": {"method": "mcts", "budget": 1000, "reward": "json"}},
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == text


@pytest.mark.parametrize("method", ["greedy", "maxent_ts", "best_of_n"])
def test_usage_matches_counters(method: str) -> None:
    """A fresh server and a fresh in-process engine on the same weights: identical counters."""
    settings = {"method": method, "budget": 120, "reward": "json"}
    with LiveServer(create_app(tiny_chat_lm(), "tiny")) as live:
        c = OpenAI(base_url=live.url + "/v1", api_key="x", max_retries=0, timeout=60)
        r = c.chat.completions.create(
            model="tiny", messages=ASK, max_tokens=8, extra_body={"mctd": settings}
        )
    local = Engine(tiny_chat_lm()).reply(ASK, Settings(max_tokens=8, **settings))
    mctd = r.model_extra["mctd"]  # type: ignore[index]
    for key in ("nfe", "prompt_nfe", "calls", "nodes", "rollouts", "completion_tokens"):
        assert mctd[key] == getattr(local.cost, key), key
    assert r.usage is not None
    assert r.usage.completion_tokens == local.cost.completion_tokens
    assert r.usage.prompt_tokens == local.cost.prompt_tokens
    assert r.choices[0].message.content == local.text


def body(**fields: object) -> str:
    """A request body with one user message and ``fields`` added."""
    return json.dumps({"model": "tiny", "messages": [{"role": "user", "content": "x"}], **fields})


def py(fn: str, method: str = "best_of_n") -> str:
    return body(mctd={"method": method, "budget": 30, "reward": f"python:{fn}"})


BAD = [
    ("{not json", "malformed JSON body"),
    ('{"model": "tiny"}', "messages: Field required"),
    ('{"model": "tiny", "messages": []}', "messages"),
    ('{"model": "tiny", "messages": [{"role": "robot", "content": "x"}]}', "role"),
    (body(mctd={"method": "nope"}), "unknown method 'nope'"),
    (body(mctd={"reward": "bleu"}), "unknown reward 'bleu'"),
    (body(mctd={"budget": 0}), "budget must be an integer >= 1"),
    (body(mctd={"colour": 1}), "colour"),
    (body(n=2), "n must be 1"),
    (body(temperature=-1), "temperature"),
    (body(messages=[{"role": "user", "content": "x" * 300}]), "context is 128"),
    (py("chat_rewards:raises"), "raised RuntimeError: boom"),
    (py("chat_rewards:nan", "mcts"), "returned nan"),
    (py("no_such_mod:f"), "cannot import"),
]


@pytest.mark.parametrize(("body", "message"), BAD)
def test_bad_input_is_4xx_and_the_server_goes_on(
    server: LiveServer, body: str, message: str
) -> None:
    r = httpx.post(
        server.url + "/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert message in err["message"] and err["type"] == "invalid_request_error"
    ok = httpx.post(
        server.url + "/v1/chat/completions",
        json={"model": "tiny", "messages": ASK, "max_tokens": 3},
        timeout=60,
    )
    assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"]


def test_openai_client_errors(client: OpenAI) -> None:
    with pytest.raises(NotFoundError, match="model 'gpt-9' not found"):
        client.chat.completions.create(model="gpt-9", messages=ASK)
    with pytest.raises(BadRequestError, match="unknown method"):
        client.chat.completions.create(
            model="tiny", messages=ASK, extra_body={"mctd": {"method": "x"}}
        )


def test_python_rewards_need_the_flag() -> None:
    with LiveServer(create_app(tiny_chat_lm(), "tiny")) as live:
        r = httpx.post(
            live.url + "/v1/chat/completions",
            json={
                "model": "tiny",
                "messages": ASK,
                "mctd": {"reward": "python:chat_rewards:vowels"},
            },
            timeout=60,
        )
    assert r.status_code == 400 and "--allow-python-reward" in r.json()["error"]["message"]


def test_load_bounded(server: LiveServer) -> None:
    """16 clients x 4 requests (plain, streamed and search), each bounded in time: all answered."""
    before = httpx.get(server.url + "/health").json()["served"]

    def client_loop(i: int) -> list[str]:
        c = OpenAI(base_url=server.url + "/v1", api_key="x", max_retries=0, timeout=120)
        out = []
        for j in range(4):
            kind = (i + j) % 3
            msgs = [{"role": "user", "content": f"client {i} request {j}"}]
            if kind == 2:
                r = c.chat.completions.create(
                    model="tiny",
                    messages=msgs,
                    max_tokens=4,
                    extra_body={"mctd": {"method": "best_of_n", "budget": 16, "reward": "json"}},
                )
                out.append(r.choices[0].message.content or "")
            elif kind == 1:
                s = c.chat.completions.create(
                    model="tiny", messages=msgs, max_tokens=6, stream=True
                )
                out.append("".join(ch.choices[0].delta.content or "" for ch in s if ch.choices))
            else:
                r = c.chat.completions.create(model="tiny", messages=msgs, max_tokens=6)
                out.append(r.choices[0].message.content or "")
        return out

    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(client_loop, i) for i in range(16)]
        done, pending = wait(futures, timeout=240)
    assert not pending, f"{len(pending)} clients did not finish in 240 s"
    answers = [a for f in done for a in f.result()]
    assert len(answers) == 64 and all(isinstance(a, str) for a in answers)
    health = httpx.get(server.url + "/health").json()
    assert health["status"] == "ok" and health["waiting"] == 0
    assert health["served"] - before == 64
    assert time.monotonic() - t0 < 240
