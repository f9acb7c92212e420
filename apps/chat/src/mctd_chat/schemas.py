"""Request bodies of the OpenAI-compatible API (pydantic), and their translation to `Settings`.

Only what the server honours is read: ``model``, ``messages``, ``max_tokens`` (or
``max_completion_tokens``), ``temperature``, ``top_p``, ``n`` (1 only), ``stream``,
``stream_options.include_usage``, ``stop``, ``seed``; other OpenAI fields are accepted and
ignored. Search settings go in the extra field ``mctd``: ``method``, ``budget``, ``reward``,
``schema`` (a JSON Schema object for the json reward).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mctd_chat.errors import SettingsError
from mctd_chat.settings import Settings


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)


class MctdOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    method: str | None = None
    budget: int | None = None
    reward: str | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    mctd: MctdOptions | None = None

    def chat_messages(self) -> list[dict[str, str]]:
        """Messages as the chat template takes them (``developer`` is OpenAI's ``system``)."""
        return [
            {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
            for m in self.messages
        ]

    def stops(self) -> tuple[str, ...]:
        stops = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        if len(stops) > 4 or any(not s for s in stops):
            raise SettingsError("stop must be up to 4 non-empty strings")
        return stops

    def settings(self, allow_python_reward: bool) -> Settings:
        """The request's `Settings` (defaults where a field is absent); validated."""
        if self.n not in (None, 1):
            raise SettingsError(f"n must be 1 (one answer per request), got {self.n}")
        opts = self.mctd or MctdOptions()
        changes: dict[str, Any] = {
            "method": opts.method,
            "budget": opts.budget,
            "reward": opts.reward,
            "schema": opts.json_schema,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_completion_tokens or self.max_tokens,
            "seed": self.seed,
        }
        settings = Settings().with_(**{k: v for k, v in changes.items() if v is not None})
        if settings.reward_spec().kind == "python":
            if not allow_python_reward:
                raise SettingsError(
                    "python: rewards run code named by the request; this server was started "
                    "without --allow-python-reward"
                )
            settings.check_python()
        return settings
