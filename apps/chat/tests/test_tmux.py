"""The terminal as a person uses it: ``mctd-chat`` runs under tmux on the tiny model folder; the
test types slash commands and a question with send-keys and reads the screen with capture-pane."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


def need_tmux() -> str:
    tmux = shutil.which("tmux")
    if tmux is None:
        if os.environ.get("CI"):
            pytest.fail("tmux is missing on CI: .ci/run installs it (apt-get install tmux)")
        pytest.skip("tmux is not installed")
    return tmux


class Tmux:
    def __init__(self, tmux: str) -> None:
        self.tmux = tmux
        self.socket = f"mctd-chat-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        cmd = [self.tmux, "-L", self.socket, *args]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-J", "-t", "chat", "-S", "-300")

    def wait_for(self, text: str, timeout: float = 120, after: int = 0) -> str:
        """The screen once ``text`` appears at least ``after + 1`` times."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) > after:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} did not appear in {timeout} s; screen:\n{self.screen()}")

    def type(self, line: str) -> None:
        self("send-keys", "-t", "chat", "-l", line)
        self("send-keys", "-t", "chat", "Enter")


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(need_tmux())
    yield t
    subprocess.run([t.tmux, "-L", t.socket, "kill-server"], capture_output=True, check=False)


def test_terminal_under_tmux(tmux: Tmux, tiny_dir: Path, tmp_path: Path) -> None:
    save = tmp_path / "chat.jsonl"
    env = {
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(Path(__file__).parent),
    }
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    cmd = (
        f"env {exports} {shlex.quote(sys.executable)} -m mctd_chat --model {tiny_dir} "
        f"--max-tokens 6 --threads 1 --save {save}"
    )
    tmux("new-session", "-d", "-s", "chat", "-x", "160", "-y", "50", cmd)
    tmux("set-option", "-t", "chat", "remain-on-exit", "on")
    tmux.wait_for("you> ")
    tmux.type("/method maxent_ts")
    tmux.wait_for("settings: method maxent_ts")
    tmux.type("/budget 150")
    tmux.wait_for("budget 150 ·")
    tmux.type("give me json")
    screen = tmux.wait_for("cost: maxent_ts")
    lines = screen.splitlines()
    status = [x for x in lines if x.startswith("[maxent_ts] NFE ")]
    assert status, screen
    assert "/150" in status[-1] and "nodes " in status[-1] and "best " in status[-1]
    answer = [x for x in lines if x.startswith("assistant> ")]
    assert answer, screen
    saved = [json.loads(x) for x in save.read_text().splitlines()]
    assert saved[0]["settings"]["method"] == "maxent_ts" and saved[0]["settings"]["budget"] == 150
    assert [m["role"] for m in saved[1:]] == ["user", "assistant"]
    assert saved[1]["content"] == "give me json"
    assert answer[-1] == "assistant> " + saved[2]["content"]
    assert saved[2]["cost"]["method"] == "maxent_ts" and saved[2]["cost"]["nfe"] > 0
    # a bad command is one clear line and the session goes on
    tmux.type("/budget 0")
    tmux.wait_for("error: budget must be an integer >= 1")
    tmux.type("/quit")
    deadline = time.monotonic() + 30
    while tmux("display-message", "-p", "-t", "chat", "#{pane_dead}").strip() != "1":
        assert time.monotonic() < deadline, "mctd-chat did not exit on /quit"
        time.sleep(0.2)
