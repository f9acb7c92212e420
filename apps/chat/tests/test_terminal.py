"""The terminal loop in-process: slash commands, the status line, errors that keep the
conversation, saving and resuming."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import tiny_chat_lm
from mctd_chat.conversation import Conversation
from mctd_chat.engine import Engine
from mctd_chat.errors import ChatError
from mctd_chat.settings import Settings
from mctd_chat.terminal import Terminal


def script(lines: list[str]) -> Callable[[str], str]:
    feed = iter(lines)

    def read(prompt: str) -> str:
        try:
            return next(feed)
        except StopIteration:
            raise EOFError from None

    return read


def session(lines: list[str], conv: Conversation | None = None, **kw) -> tuple[Terminal, str]:
    out = io.StringIO()
    conv = conv or Conversation(Settings(max_tokens=8))
    term = Terminal(Engine(tiny_chat_lm()), conv, out=out, refresh_s=0.0, **kw)
    term.run(script(lines))
    return term, out.getvalue()


def test_question_and_search_with_status_line() -> None:
    term, out = session(
        ["hello", "/method maxent_ts", "/budget 120", "/reward json", "give me json"]
    )
    assert "assistant> " in out and "cost: greedy · NFE" in out
    assert "[maxent_ts] NFE" in out and "/120" in out and "nodes" in out and "best" in out
    assert "cost: maxent_ts · NFE" in out
    msgs = term.conv.messages
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert msgs[3]["settings"]["method"] == "maxent_ts" and msgs[3]["settings"]["budget"] == 120
    assert msgs[3]["cost"]["nfe"] > 0 and msgs[3]["cost"]["reward"] is not None


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["/method nope"], "error: unknown method 'nope'"),
        (["/budget 0"], "error: budget must be an integer >= 1"),
        (["/budget many"], "error: budget must be an integer >= 1"),
        (["/reward bleu"], "error: unknown reward 'bleu'"),
        (["/reward python:no_such_module_q:f"], "error: python reward: cannot import"),
        (["/temp -2"], "error: temperature must be a finite number >= 0"),
        (["/frobnicate"], "error: unknown command /frobnicate"),
        (["/load /no/such/file.jsonl"], "error: cannot read /no/such/file.jsonl"),
        (["/reward python:chat_rewards:raises", "/method best_of_n", "hi"], "raised RuntimeError"),
        (["/reward python:chat_rewards:nan", "/method mcts", "hi"], "returned nan"),
        (["/reward python:chat_rewards:nan", "hi"], "returned nan"),
        (["x" * 300], "error: the conversation is"),
    ],
)
def test_errors_keep_the_conversation(lines: list[str], message: str) -> None:
    term, out = session(["hello", *lines, "/stats"])
    assert message in out
    # the first exchange is intact and the failed turn left nothing behind
    assert [m["role"] for m in term.conv.messages] == ["user", "assistant"]
    assert "greedy: 1 answers" in out


def test_save_load_resume(tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    term, out = session(["hello", "/method best_of_n", "/budget 40", f"/save {path}", "more"])
    assert f"saved 2 messages to {path}" in out
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["settings"]["method"] == "best_of_n"
    assert [x["role"] for x in lines[1:]] == ["user", "assistant", "user", "assistant"]
    assert lines[4]["cost"]["method"] == "best_of_n"  # saved again after the answer
    assert not list(tmp_path.glob(".chat.jsonl.*"))  # no temporary files left
    resumed, out2 = session([f"/load {path}", "again"])
    assert "loaded 4 messages" in out2 and "method best_of_n · budget 40" in out2
    assert len(resumed.conv.messages) == 6
    assert resumed.conv.messages[:4] == term.conv.messages
    _, out3 = session(["/reset", "/stats"], conv=Conversation.load(path))
    assert "conversation cleared" in out3 and "no answers yet" in out3


def test_help_lists_every_command() -> None:
    _, out = session(["/help"])
    for cmd in ("/method", "/budget", "/reward", "/temp", "/stats", "/reset", "/save", "/load"):
        assert cmd in out


def test_load_rejects_foreign_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "header", "format": 1, "settings": {}}\n{oops\n')
    with pytest.raises(ChatError, match=r"bad.jsonl:2: not JSON"):
        Conversation.load(bad)
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(ChatError, match="not an mctd-chat conversation header"):
        Conversation.load(bad)
    bad.write_text('{"type": "header", "format": 1, "settings": {"method": "nope"}}\n')
    with pytest.raises(ChatError, match="unknown method 'nope'"):
        Conversation.load(bad)
