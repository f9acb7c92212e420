"""python: rewards used by the tests (imported by name, as a user's module would be)."""

from __future__ import annotations

SEEN: list[tuple[str, list[dict[str, str]]]] = []


def vowels(completion: str, conversation: list[dict[str, str]]) -> float:
    """Fraction of vowels; records what it was given."""
    SEEN.append((completion, conversation))
    return sum(c in "aeiou" for c in completion) / max(len(completion), 1)


def raises(completion: str, conversation: list[dict[str, str]]) -> float:
    raise RuntimeError("boom from the user's reward")


def nan(completion: str, conversation: list[dict[str, str]]) -> float:
    return float("nan")


def mutates(completion: str, conversation: list[dict[str, str]]) -> float:
    conversation.clear()
    return 0.0
