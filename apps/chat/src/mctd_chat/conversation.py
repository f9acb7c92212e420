"""A conversation and its JSONL file: one header line, then one line per message.

```
{"type": "header", "format": 1, "app": "mctd-chat 0.1.0", "model": "default", "backend": "torch",
 "settings": {...}}
{"type": "message", "role": "user", "content": "..."}
{"type": "message", "role": "assistant", "content": "...", "settings": {...}, "cost": {...}}
```

Each assistant message carries the settings and the cost of that answer; the header carries the
settings in force when the file was written, so loading it resumes the conversation as it was.
Files are written atomically (a temporary file in the same folder, then a rename).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mctd_chat import __version__
from mctd_chat.errors import ChatError
from mctd_chat.settings import Settings

FORMAT = 1
ROLES = ("system", "user", "assistant")


@dataclass
class Conversation:
    """Messages (role, content, and for answers their settings and cost) and current settings."""

    settings: Settings = field(default_factory=Settings)
    messages: list[dict[str, Any]] = field(default_factory=list)
    model: str = "default"
    backend: str = "torch"

    def add_user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})

    def add_answer(self, text: str, settings: Settings, cost: dict[str, Any]) -> None:
        self.messages.append(
            {"role": "assistant", "content": text, "settings": settings.to_dict(), "cost": cost}
        )

    def reset(self) -> None:
        """Forget the messages (keep a leading system prompt and the settings)."""
        self.messages = [m for m in self.messages[:1] if m["role"] == "system"]

    def answers(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["role"] == "assistant" and "cost" in m]

    def lines(self) -> list[dict[str, Any]]:
        head = {
            "type": "header",
            "format": FORMAT,
            "app": f"mctd-chat {__version__}",
            "model": self.model,
            "backend": self.backend,
            "settings": self.settings.to_dict(),
        }
        return [head, *({"type": "message", **m} for m in self.messages)]

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the conversation to ``path`` atomically; return the path."""
        target = Path(path).expanduser()
        if target.is_dir():
            raise ChatError(f"{target} is a folder; give a file name such as chat.jsonl")
        if not target.parent.is_dir():
            raise ChatError(f"cannot save to {target}: folder {target.parent} does not exist")
        text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines())
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Conversation:
        """Read a file written by `save`; every problem names the file and line."""
        source = Path(path).expanduser()
        try:
            raw = source.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ChatError(f"cannot read {source}: {err.strerror or err}") from err
        rows = [(i, line) for i, line in enumerate(raw, 1) if line.strip()]
        if not rows:
            raise ChatError(f"{source} is empty: not an mctd-chat conversation")
        docs = []
        for i, line in rows:
            try:
                doc = json.loads(line)
            except json.JSONDecodeError as err:
                raise ChatError(f"{source}:{i}: not JSON ({err.msg})") from err
            if not isinstance(doc, dict):
                raise ChatError(f"{source}:{i}: expected a JSON object")
            docs.append((i, doc))
        i, head = docs[0]
        if head.get("type") != "header" or head.get("format") != FORMAT:
            raise ChatError(f"{source}:{i}: not an mctd-chat conversation header (format 1)")
        try:
            settings = Settings.from_dict(head.get("settings") or {})
        except (ChatError, TypeError) as err:
            raise ChatError(f"{source}:{i}: {err}") from err
        conv = cls(settings, [], str(head.get("model", "default")), str(head.get("backend")))
        for i, doc in docs[1:]:
            role, content = doc.get("role"), doc.get("content")
            if doc.get("type") != "message" or role not in ROLES or not isinstance(content, str):
                raise ChatError(f"{source}:{i}: expected a message with a role and a content")
            conv.messages.append({k: v for k, v in doc.items() if k != "type"})
        return conv
