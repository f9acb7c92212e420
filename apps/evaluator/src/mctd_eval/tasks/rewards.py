"""Reward specs: a reward (or evaluation metric) for a prompts file, named by a short string.

- ``number``: 1 if the completion's last number equals the row's numeric ``answer`` (relative
  tolerance 1e-9), else 0. Sees the answer.
- ``exact``: 1 if the stripped completion equals ``str(answer)`` stripped, else 0. Sees the answer.
- ``regex:PATTERN``: 1 if ``re.search(PATTERN, completion)`` matches, else 0.
- ``json`` / ``json:SCHEMA.json``: 1 if the completion parses as JSON (and validates against the
  JSON Schema file; needs ``jsonschema``), 0.5 if it parses but fails the schema, else 0.
- ``keywords``: the fraction of the row's ``keywords`` list used (case-insensitive word starts).
- ``likelihood``: mean token log-prob of the completion given the prompt (clipped at -10); the
  model's work counts as NFE. A search reward only.
- ``python:MODULE:FUNCTION``: ``FUNCTION(completion, **named)``, a finite float; MODULE is a module
  name or a ``.py`` path. Sees the answer only if the function names ``answer``.

A ``python:`` function's first parameter is the completion text; it may also name ``prompt``
(str), ``answer`` (the row's answer) and ``meta`` (the row's other fields, a dict), and receives
exactly those: it sees the answer only if it asks for it, and rows record that. Every score must be
a finite number: a reward that raises or returns NaN is a `RewardError` naming the prompts file
and line (and where in the user's code it raised).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import math
import re
import traceback
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from mctd_tree.errors import UserError
from mctd_tree.protocols import LanguageModel

from mctd_eval.tasks.fluency import mean_logprob, token_logprobs
from mctd_eval.tasks.keywords import coverage

SPECS = (
    "number",
    "exact",
    "regex:PATTERN",
    "json[:SCHEMA.json]",
    "keywords",
    "likelihood",
    "python:MODULE:FUNCTION",
)
_NUMBER = re.compile(r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_PY_NAMES = ("prompt", "answer", "meta")


class RewardSpecError(UserError):
    """A reward spec that cannot be used: unknown, ill-formed, or its code does not import."""


class RewardError(UserError):
    """A reward failed on a completion: it raised, or returned a value that is not finite."""


@dataclass(frozen=True)
class PromptRow:
    """What the search may see of a prompts-file row: the prompt and its metadata (never the
    answer), and where it came from (``path:line``)."""

    prompt: str
    meta: dict[str, Any] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class Context:
    """What a scorer gets for one prompt: ``answer`` is None unless the scorer sees it."""

    row: PromptRow
    answer: Any = None
    lm: LanguageModel | None = None
    prompt_ids: Sequence[int] = ()


class Scorer(ABC):
    """A batched scorer of completions for one prompt."""

    spec: str = ""
    sees_answer: bool = False
    needs_lm: bool = False

    def check_row(self, row: PromptRow, answer: Any, has_answer: bool) -> None:
        """Raise `RewardSpecError` (naming ``row.where``) if the row lacks what the spec needs."""
        if self.sees_answer and not has_answer:
            raise RewardSpecError(f'{row.where}: reward {self.spec!r} needs an "answer" field')

    @abstractmethod
    def score(self, texts: Sequence[str], ctx: Context) -> Sequence[float]:
        """One score per completion text."""


def final_number(text: str) -> float | None:
    """The last number written in ``text`` (thousands commas allowed), or None."""
    found = [m.group().replace(",", "") for m in _NUMBER.finditer(text)]
    for f in reversed(found):
        try:
            return float(f)
        except ValueError:
            continue
    return None


def _as_number(answer: Any) -> float | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int | float):
        return float(answer)
    return final_number(answer) if isinstance(answer, str) and answer.strip() else None


class NumberScorer(Scorer):
    sees_answer = True

    def check_row(self, row: PromptRow, answer: Any, has_answer: bool) -> None:
        super().check_row(row, answer, has_answer)
        if _as_number(answer) is None:
            raise RewardSpecError(
                f'{row.where}: reward {self.spec!r} needs a numeric "answer", got {answer!r}'
            )

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        want = _as_number(ctx.answer)
        assert want is not None
        tol = 1e-9 * max(1.0, abs(want))
        got = [final_number(t) for t in texts]
        return [float(g is not None and abs(g - want) <= tol) for g in got]


class ExactScorer(Scorer):
    sees_answer = True

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        want = str(ctx.answer).strip()
        return [float(t.strip() == want) for t in texts]


class RegexScorer(Scorer):
    def __init__(self, pattern: str) -> None:
        try:
            self.pattern = re.compile(pattern)
        except re.error as err:
            raise RewardSpecError(f"reward regex {pattern!r} does not compile: {err}") from None

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        return [float(self.pattern.search(t) is not None) for t in texts]


class JsonScorer(Scorer):
    def __init__(self, schema_path: str) -> None:
        self.validator: Any = None
        if schema_path:
            self.validator = _schema_validator(Path(schema_path).expanduser())

    @staticmethod
    def parse(text: str) -> tuple[bool, Any]:
        """(parsed?, value): the stripped text, else from its first ``{``/``[`` to the last
        ``}``/``]``."""
        s = text.strip()
        candidates = [s]
        starts = [i for i in (s.find("{"), s.find("[")) if i >= 0]
        if starts:
            candidates.append(s[min(starts) : max(s.rfind("}"), s.rfind("]")) + 1])
        for c in candidates:
            try:
                return True, json.loads(c)
            except ValueError:
                continue
        return False, None

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        out = []
        for t in texts:
            ok, value = self.parse(t)
            if not ok:
                out.append(0.0)
            elif self.validator is None:
                out.append(1.0)
            else:
                out.append(1.0 if self.validator.is_valid(value) else 0.5)
        return out


def _schema_validator(path: Path) -> Any:
    try:
        jsonschema = importlib.import_module("jsonschema")
    except ImportError:
        raise RewardSpecError(
            "a JSON Schema reward needs jsonschema: the 'schema' extra of mctd-evaluator "
            "(`pip install 'mctd-evaluator[schema]'`)"
        ) from None
    try:
        schema = json.loads(path.read_text())
    except OSError as err:
        raise RewardSpecError(f"{path}: cannot read the JSON Schema ({err.strerror})") from None
    except ValueError as err:
        raise RewardSpecError(f"{path}: the JSON Schema is not JSON ({err})") from None
    cls = jsonschema.validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except jsonschema.exceptions.SchemaError as err:
        raise RewardSpecError(f"{path}: not a valid JSON Schema ({err.message})") from None
    return cls(schema)


class KeywordsScorer(Scorer):
    def check_row(self, row: PromptRow, answer: Any, has_answer: bool) -> None:
        words = row.meta.get("keywords")
        if not (isinstance(words, list) and words and all(isinstance(w, str) for w in words)):
            raise RewardSpecError(
                f"{row.where}: reward 'keywords' needs a \"keywords\" list of words, got {words!r}"
            )

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        return [coverage(t, ctx.row.meta["keywords"]) for t in texts]


class LikelihoodScorer(Scorer):
    needs_lm = True

    def score(self, texts: Sequence[str], ctx: Context) -> list[float]:
        if ctx.lm is None:
            raise RewardSpecError("the likelihood reward needs the model")
        ids = [ctx.lm.encode(t) for t in texts]
        return [mean_logprob(lp) for lp in token_logprobs(ctx.lm, ctx.prompt_ids, ids)]


def origin(err: BaseException) -> str:
    """``file:line: `` where ``err`` was raised (its innermost frame; a SyntaxError's own)."""
    if isinstance(err, SyntaxError) and err.filename:
        return f"{err.filename}:{err.lineno}: "
    tb = traceback.extract_tb(err.__traceback__)
    return f"{tb[-1].filename}:{tb[-1].lineno}: " if tb else ""


@functools.lru_cache(maxsize=64)
def parse_spec(spec: str) -> Scorer:
    """The scorer named by ``spec`` (see the module docstring); clear errors for bad specs."""
    kind, sep, arg = spec.partition(":")
    scorer: Scorer
    if spec == "number":
        scorer = NumberScorer()
    elif spec == "exact":
        scorer = ExactScorer()
    elif kind == "regex" and sep and arg:
        scorer = RegexScorer(arg)
    elif kind == "json":
        scorer = JsonScorer(arg)
    elif spec == "keywords":
        scorer = KeywordsScorer()
    elif spec == "likelihood":
        scorer = LikelihoodScorer()
    elif kind == "python" and arg.rpartition(":")[0] and arg.rpartition(":")[2]:
        from mctd_eval.tasks.pyreward import PythonScorer  # it imports this module

        module, _, function = arg.rpartition(":")
        scorer = PythonScorer(spec, module, function)
    else:
        raise RewardSpecError(f"unknown reward spec {spec!r}; valid: {', '.join(SPECS)}")
    scorer.spec = spec
    return scorer


def checked_scores(scorer: Scorer, texts: Sequence[str], ctx: Context, role: str) -> np.ndarray:
    """``scorer.score`` as a float array; a raise or a non-finite value is a one-line
    `RewardError` naming the prompts file and line (and the raising code's file and line)."""
    try:
        raw = list(scorer.score(texts, ctx))
    except (RewardError, RewardSpecError):
        raise
    except Exception as err:
        raise RewardError(
            f"{ctx.row.where}: {role} {scorer.spec!r} raised {type(err).__name__}: {err} "
            f"(at {origin(err).rstrip(': ')})"
        ) from None
    if len(raw) != len(texts):
        raise RewardError(
            f"{ctx.row.where}: {role} {scorer.spec!r} gave {len(raw)} scores for {len(texts)} texts"
        )
    out = np.empty(len(raw))
    for i, (v, t) in enumerate(zip(raw, texts, strict=True)):
        x = v if isinstance(v, int | float | np.number) and not isinstance(v, bool) else None
        if x is None or not math.isfinite(float(x)):
            raise RewardError(
                f"{ctx.row.where}: {role} {scorer.spec!r} returned {v!r} for the completion "
                f"{t[:40]!r}; a {role} must be a finite number"
            )
        out[i] = float(x)
    return out
