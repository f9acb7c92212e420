"""The chat app's errors: everything a user can fix is a `ChatError` with a one-line message.

The terminal prints it and keeps the conversation; the server answers it with a 4xx and an
OpenAI-style error body (``status`` and ``code`` say which).
"""

from __future__ import annotations

from mctd_tree.errors import UserError


class ChatError(UserError):
    """Bad input from the user (a setting, a reward, a message, a file): fixable, not a bug."""

    status = 400
    code: str | None = None


class SettingsError(ChatError):
    """An unknown method or reward, a budget < 1, a bad temperature, ..."""


class RewardError(ChatError):
    """The reward failed on a completion (a ``python:`` reward raised or returned NaN)."""

    code = "reward_failed"


class ContextError(ChatError):
    """The conversation does not fit the model's context."""

    code = "context_length_exceeded"


class ModelError(ChatError):
    """The model cannot be loaded (unknown backend, a model kind that does not exist yet)."""


class Cancelled(Exception):
    """An answer was stopped before it finished (Ctrl-C, or a client that went away)."""
