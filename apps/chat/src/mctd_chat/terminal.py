"""The terminal chat: a read-answer loop with slash commands, streamed tokens for plain decoding
and a live status line (NFE, nodes, best reward) while a search runs.

Every error a user can cause (a bad setting, a reward that raises, a conversation too long for the
context, an unreadable file) prints one ``error: ...`` line and leaves the conversation as it was
before the failed turn. Ctrl-C stops an answer the same way; Ctrl-D or ``/quit`` leaves.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from mctd_chat.conversation import Conversation
from mctd_chat.engine import Answer, Engine
from mctd_chat.errors import ChatError
from mctd_chat.live import Progress
from mctd_chat.methods import METHODS
from mctd_chat.rewards import REWARDS, check_schema

HELP = """commands:
  /method NAME        how answers are chosen: {methods}
  /budget N           NFE (positions processed) a search may spend, N >= 1
  /reward SPEC        {rewards}
                      (json [SCHEMA_FILE] validates against a JSON Schema; regex PATTERN; length N)
  /temp T             sampling temperature for sample and for search rollouts (0 = greedy)
  /stats              settings and what this session's answers cost
  /reset              forget the conversation (settings stay)
  /save FILE          write the conversation as JSONL (and keep saving there after each answer)
  /load FILE          resume a saved conversation with its settings
  /help               this list
  /quit               leave (Ctrl-D too); Ctrl-C stops an answer"""


def load_schema(path: str) -> dict[str, Any]:
    """A JSON Schema from a file, checked to be one."""
    p = Path(path).expanduser()
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ChatError(f"cannot read schema {p}: {err.strerror or err}") from err
    except json.JSONDecodeError as err:
        raise ChatError(f"schema {p} is not JSON: {err.msg} (line {err.lineno})") from err
    return check_schema(doc)


def status_line(p: Progress) -> str:
    """``[method] NFE used/budget · nodes · rollouts · best reward · seconds``."""
    nfe = f"NFE {p.nfe:,}" + (f"/{p.budget:,}" if p.budget is not None else "")
    parts = [f"[{p.method}] {nfe}"]
    if p.nodes is not None:
        parts.append(f"nodes {p.nodes:,}")
    parts.append(f"rollouts {p.rollouts}")
    parts.append(f"best {p.best_reward:.3f}" if p.rollouts else "best -")
    parts.append(f"{p.elapsed:.1f} s")
    return " · ".join(parts)


class Terminal:
    """One terminal session over ``engine``; ``save_path`` is rewritten after every answer."""

    def __init__(
        self,
        engine: Engine,
        conversation: Conversation,
        *,
        out: TextIO = sys.stdout,
        save_path: Path | None = None,
        refresh_s: float = 0.1,
    ) -> None:
        self.engine = engine
        self.conv = conversation
        self.out = out
        self.save_path = save_path
        self.refresh_s = refresh_s
        self._last_draw = 0.0
        self._status = ""
        self.commands: dict[str, Callable[[list[str]], None]] = {
            "/method": self.cmd_method,
            "/budget": self.cmd_budget,
            "/reward": self.cmd_reward,
            "/temp": self.cmd_temp,
            "/stats": self.cmd_stats,
            "/reset": self.cmd_reset,
            "/save": self.cmd_save,
            "/load": self.cmd_load,
            "/help": self.cmd_help,
        }

    # ---------------------------------------------------------------- loop
    def run(self, read: Callable[[str], str] = input) -> None:
        self.say(f"mctd-chat on {self.conv.model} ({self.conv.backend}); /help lists commands")
        self.say(self.settings_line())
        while True:
            try:
                line = read("you> ")
            except EOFError:
                self.say("")
                return
            except KeyboardInterrupt:
                self.say("")
                continue
            if line.strip() in ("/quit", "/exit"):
                return
            self.handle(line)

    def handle(self, line: str) -> None:
        """One line from the user: a slash command or a message to answer."""
        text = line.strip()
        if not text:
            return
        try:
            if text.startswith("/"):
                self.command(text)
            else:
                self.ask(text)
        except ChatError as err:
            self.say(f"error: {err}")

    def command(self, text: str) -> None:
        name, _, rest = text.partition(" ")
        fn = self.commands.get(name)
        if fn is None:
            raise ChatError(f"unknown command {name}; /help lists them")
        try:
            args = shlex.split(rest) if name != "/reward" else rest.split(None, 1)
        except ValueError as err:
            raise ChatError(f"{name}: {err}") from err
        fn(args)

    def ask(self, text: str) -> None:
        """Answer ``text``; on any failure the conversation stays as it was before it."""
        conv = self.conv
        conv.add_user(text)
        streamed = False

        def on_text(piece: str) -> None:
            nonlocal streamed
            if not streamed:
                self.write("assistant> ")
                streamed = True
            self.write(piece)

        try:
            answer = self.engine.reply(
                conv.messages, conv.settings, on_text=on_text, on_progress=self.draw
            )
        except KeyboardInterrupt:
            conv.messages.pop()
            self.end_status()
            self.say("\n(answer stopped; the conversation is as it was)")
            return
        except ChatError as err:
            conv.messages.pop()
            self.end_status()
            self.say(("\n" if streamed else "") + f"error: {err}")
            return
        except Exception as err:  # a failure inside the model or search on this input
            conv.messages.pop()
            self.end_status()
            self.say(
                ("\n" if streamed else "")
                + f"error: {type(err).__name__}: {err} (the conversation is as it was)"
            )
            return
        self.end_status()
        self.show(answer, streamed)
        conv.add_answer(answer.text, conv.settings, answer.cost.to_dict())
        if self.save_path is not None:
            conv.save(self.save_path)

    def show(self, answer: Answer, streamed: bool) -> None:
        if streamed:
            self.say("")
        else:
            self.say(f"assistant> {answer.text}")
        self.say(f"  cost: {answer.cost.summary()}")

    # ---------------------------------------------------------------- status line
    def draw(self, p: Progress) -> None:
        self._status = status_line(p)
        now = time.perf_counter()
        if now - self._last_draw >= self.refresh_s:
            self._last_draw = now
            self.write("\r\x1b[K" + self._status)

    def end_status(self) -> None:
        """Leave the last status line on screen (final figures) and move below it."""
        if self._status:
            self.write("\r\x1b[K" + self._status + "\n")
            self._status = ""
            self._last_draw = 0.0

    # ---------------------------------------------------------------- commands
    def cmd_method(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError(f"usage: /method NAME ({', '.join(METHODS)})")
        self.set(method=args[0])

    def cmd_budget(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("usage: /budget N (NFE, an integer >= 1)")
        try:
            n = int(args[0])
        except ValueError as err:
            raise ChatError(f"budget must be an integer >= 1, got {args[0]!r}") from err
        self.set(budget=n)

    def cmd_reward(self, args: list[str]) -> None:
        if not args:
            raise ChatError(f"usage: /reward SPEC ({', '.join(REWARDS)})")
        spec = " ".join(args)
        kind, _, rest = spec.partition(" ")
        if kind == "json" and rest.strip():
            self.set(reward="json", schema=load_schema(rest.strip()))
        else:
            self.set(reward=spec, schema=None)

    def cmd_temp(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("usage: /temp T (a number >= 0)")
        try:
            t = float(args[0])
        except ValueError as err:
            raise ChatError(f"temperature must be a number >= 0, got {args[0]!r}") from err
        self.set(temperature=t)

    def cmd_stats(self, args: list[str]) -> None:
        self.say(self.settings_line())
        answers = self.conv.answers()
        if not answers:
            self.say("no answers yet")
            return
        by: dict[str, list[dict[str, Any]]] = {}
        for m in answers:
            by.setdefault(m["cost"]["method"], []).append(m["cost"])
        for method, costs in by.items():
            nfe = sum(c["nfe"] for c in costs)
            wall = sum(c["wall_s"] for c in costs)
            toks = sum(c["completion_tokens"] for c in costs)
            self.say(
                f"  {method}: {len(costs)} answers · NFE {nfe:,} · {wall:.1f} s · "
                f"{toks / wall if wall else 0:.1f} tok/s · NFE/token "
                f"{nfe / max(sum(c['greedy_nfe'] for c in costs), 1):.1f}x greedy"
            )

    def cmd_reset(self, args: list[str]) -> None:
        self.conv.reset()
        self.say("conversation cleared (settings kept)")

    def cmd_save(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("usage: /save FILE")
        path = self.conv.save(args[0])
        self.save_path = path
        self.say(f"saved {len(self.conv.messages)} messages to {path} (and after every answer)")

    def cmd_load(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("usage: /load FILE")
        conv = Conversation.load(args[0])
        if conv.model != self.conv.model:
            self.say(f"note: saved with model {conv.model}; answering with {self.conv.model}")
        conv.model, conv.backend = self.conv.model, self.conv.backend
        self.conv = conv
        self.say(f"loaded {len(conv.messages)} messages from {args[0]}")
        self.say(self.settings_line())

    def cmd_help(self, args: list[str]) -> None:
        self.say(HELP.format(methods=", ".join(METHODS), rewards=", ".join(REWARDS)))

    # ---------------------------------------------------------------- helpers
    def set(self, **changes: Any) -> None:
        new = self.conv.settings.with_(**changes)
        new.check_python()
        self.conv.settings = new
        self.say(self.settings_line())

    def settings_line(self) -> str:
        s = self.conv.settings
        reward = s.reward + (" (with schema)" if s.schema is not None else "")
        return (
            f"settings: method {s.method} · budget {s.budget:,} · reward {reward} · "
            f"temp {s.temperature:g} · max_tokens {s.max_tokens}"
        )

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def say(self, text: str) -> None:
        self.write(text + "\n")
