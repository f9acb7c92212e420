"""Rewards on completion text, chosen by a spec string (the terminal's ``/reward``, the CLI's
``--reward``, the server's ``mctd.reward``):

- ``likelihood``: mean log p_theta of the completion's tokens given the conversation (the text
  re-encoded; floored at -10; `mctd_tree.lm.likelihood.LikelihoodReward`). What plain decoding
  approximately maximises.
- ``json``: 1 when the whole completion (stripped) parses as JSON and, with a schema, validates;
  0.5 when it parses but fails the schema; otherwise 0.5 * (where parsing failed / length), a dense
  signal that prefers longer valid prefixes and stays below every parsing answer.
- ``regex PATTERN``: 1 when the stripped completion matches PATTERN in full, 0.5 when it contains a
  match, else 0.
- ``length N``: 1 - |words - N| / N, floored at 0 (N words scores 1).
- ``python:module:function``: ``function(completion, conversation) -> float``, the user's own; it
  receives the completion text and a copy of the conversation (the messages up to the user's last
  one), never anything else. An exception, a non-number, NaN or infinity is a `RewardError`.
"""

from __future__ import annotations

import copy
import importlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jsonschema
import numpy as np
from mctd_tree.lm.likelihood import LikelihoodReward
from mctd_tree.protocols import LanguageModel, Reward

from mctd_chat.errors import RewardError, SettingsError

REWARDS = ("likelihood", "json", "regex", "length", "python:module:function")
Messages = Sequence[dict[str, str]]


@dataclass(frozen=True)
class RewardSpec:
    """A parsed reward: ``kind`` and its argument (pattern, word count or import path)."""

    kind: str
    arg: str | None = None

    def __str__(self) -> str:
        return self.kind if self.arg is None else f"{self.kind} {self.arg}"


def parse_reward(spec: str) -> RewardSpec:
    """Parse ``spec`` (see the module docstring); unknown names list the valid ones."""
    if not isinstance(spec, str) or not spec.strip():
        raise SettingsError(f"reward must be a non-empty string; valid: {', '.join(REWARDS)}")
    spec = spec.strip()
    if spec.startswith("python:"):
        parts = spec.split(":")
        if len(parts) != 3 or not all(parts[1:]):
            raise SettingsError(f"python reward must be python:module:function, got {spec!r}")
        return RewardSpec("python", spec[len("python:") :])
    kind, _, arg = spec.partition(" ")
    arg = arg.strip()
    if kind in ("likelihood", "json"):
        if arg:
            raise SettingsError(f"reward {kind!r} takes no argument (got {arg!r})")
        return RewardSpec(kind)
    if kind == "regex":
        if not arg:
            raise SettingsError("reward 'regex' needs a pattern: regex PATTERN")
        try:
            re.compile(arg)
        except re.error as err:
            raise SettingsError(f"invalid regex {arg!r}: {err}") from err
        return RewardSpec(kind, arg)
    if kind == "length":
        if not arg.isdigit() or int(arg) < 1:
            raise SettingsError(f"reward 'length' needs a word count >= 1: length N (got {arg!r})")
        return RewardSpec(kind, str(int(arg)))
    raise SettingsError(f"unknown reward {kind!r}; valid: {', '.join(REWARDS)}")


def check_schema(schema: Any) -> dict[str, Any]:
    """``schema`` if it is a valid JSON Schema object, else a `SettingsError` saying why."""
    if not isinstance(schema, dict):
        raise SettingsError("a JSON schema must be a JSON object")
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as err:
        raise SettingsError(f"invalid JSON schema: {err.message}") from err
    return schema


def load_python(path: str) -> Callable[[str, list[dict[str, str]]], Any]:
    """Import ``module:function``; clear errors when either is missing or not callable."""
    module_name, _, fn_name = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # an ImportError, or the module itself failing on import
        raise SettingsError(
            f"python reward: cannot import {module_name!r} ({type(err).__name__}: {err})"
        ) from err
    fn = getattr(module, fn_name, None)
    if not callable(fn):
        raise SettingsError(f"python reward: {module_name!r} has no function {fn_name!r}")
    return fn


def json_score(text: str, validator: Any | None) -> float:
    """The ``json`` reward of one completion."""
    body = text.strip()
    try:
        value = json.loads(body)
    except json.JSONDecodeError as err:
        return 0.5 * err.pos / max(len(body), 1)
    if validator is not None and not validator.is_valid(value):
        return 0.5
    return 1.0


def regex_score(text: str, pattern: re.Pattern[str]) -> float:
    body = text.strip()
    if pattern.fullmatch(body):
        return 1.0
    return 0.5 if pattern.search(body) else 0.0


def length_score(text: str, n: int) -> float:
    return max(0.0, 1.0 - abs(len(text.split()) - n) / n)


class TextReward:
    """A reward computed per completion text by ``score``."""

    def __init__(self, score: Callable[[str], float]) -> None:
        self.score = score

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        return np.asarray([self.score(t) for t in texts], dtype=np.float64)


class PythonReward:
    """The user's ``function(completion, conversation)``; every value checked to be finite."""

    def __init__(self, path: str, conversation: Messages) -> None:
        self.path = path
        self.fn = load_python(path)
        self.conversation = [dict(m) for m in conversation]

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        return np.asarray([self._one(t) for t in texts], dtype=np.float64)

    def _one(self, text: str) -> float:
        try:
            value = self.fn(text, copy.deepcopy(self.conversation))
        except Exception as err:
            raise RewardError(
                f"python reward {self.path} raised {type(err).__name__}: {err}"
            ) from err
        try:
            r = float(value)
        except (TypeError, ValueError) as err:
            raise RewardError(
                f"python reward {self.path} returned {value!r}, not a number"
            ) from err
        if not math.isfinite(r):
            raise RewardError(
                f"python reward {self.path} returned {r} for the completion {text[:80]!r}; "
                "a reward must be a finite number"
            )
        return r


def build_reward(
    spec: RewardSpec,
    lm: LanguageModel,
    prompt_ids: Sequence[int],
    conversation: Messages,
    schema: dict[str, Any] | None = None,
) -> Reward[str]:
    """The batched `Reward` of ``spec`` for one answer to ``conversation``."""
    if schema is not None and spec.kind != "json":
        raise SettingsError(f"a JSON schema only applies to the json reward, not {spec.kind!r}")
    if spec.kind == "likelihood":
        return LikelihoodReward(lm, prompt_ids)
    if spec.kind == "json":
        validator = None
        if schema is not None:
            validator = jsonschema.validators.validator_for(check_schema(schema))(schema)
        return TextReward(lambda t: json_score(t, validator))
    if spec.kind == "regex":
        assert spec.arg is not None
        pattern = re.compile(spec.arg)
        return TextReward(lambda t: regex_score(t, pattern))
    if spec.kind == "length":
        n = int(spec.arg or 1)
        return TextReward(lambda t: length_score(t, n))
    if spec.kind == "python":
        assert spec.arg is not None
        return PythonReward(spec.arg, conversation)
    raise SettingsError(f"unknown reward {spec.kind!r}; valid: {', '.join(REWARDS)}")
