"""``prompts``: your own prompts from a JSONL file, with a reward and a metric named by specs.

Each non-blank line of ``file`` is a JSON object with a ``prompt`` (a non-empty string), an
optional ``answer`` (any JSON value) and any other fields (metadata: ``id`` labels the row,
``keywords`` feeds the keywords reward, a ``python:`` reward receives them as ``meta``). Instances
are the rows in file order (``--prompts`` takes the first N; ``seed`` is unused).

The search reward is the spec ``reward`` (`mctd_eval.tasks.rewards`); it receives the answer only
if the spec needs it (``number``, ``exact``, a ``python:`` function naming ``answer``), and the rows
record that in ``reward_sees_truth``. The evaluation is the spec ``metric`` (default: the same as
``reward``; it always sees the answer): ``score`` is its value on the method's answer and success
= score >= ``threshold``. ``likelihood`` is a search reward only (evaluation runs no model; the
rows' ``ppl`` is the model's likelihood of the answer).

Everything is checked when the task is built, before a run writes anything: the file (a line that
is not JSON or has no prompt is an error naming file and line), the specs, each row against them
(e.g. ``number`` needs a numeric answer on every row), and every model-free reward and metric is
probed on the empty completion of every row (a completion any search may produce): a function
that raises or returns NaN there is an error naming the file and line.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from mctd_tree.errors import UserError
from mctd_tree.protocols import LanguageModel

from mctd_eval.tasks.base import Instance, TaskBase
from mctd_eval.tasks.rewards import (
    Context,
    PromptRow,
    RewardSpecError,
    Scorer,
    checked_scores,
    parse_spec,
)


class PromptsFileError(UserError):
    """A prompts file that cannot be used (missing, a bad line, no prompts)."""


@dataclass(frozen=True)
class Row:
    """One line of a prompts file: what the search may see, and the answer (if any)."""

    public: PromptRow
    answer: Any
    has_answer: bool
    label: str


def read_prompts(path: Path) -> tuple[Row, ...]:
    """The rows of a JSONL prompts file; a bad line is a `PromptsFileError` naming file:line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise PromptsFileError(f"{path}: cannot read the prompts file ({err.strerror})") from None
    rows = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except ValueError as err:
            raise PromptsFileError(f"{where}: not a JSON object ({err})") from None
        if not isinstance(obj, dict):
            raise PromptsFileError(
                f"{where}: a line must be a JSON object, got {type(obj).__name__}"
            )
        if "prompt" not in obj:
            raise PromptsFileError(
                f'{where}: no "prompt" field (fields: {", ".join(obj) or "none"})'
            )
        prompt = obj.pop("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            raise PromptsFileError(f'{where}: "prompt" must be a non-empty string, got {prompt!r}')
        has_answer = "answer" in obj
        answer = obj.pop("answer", None)
        label = str(obj.get("id", f"{path.name}:{n}"))
        rows.append(Row(PromptRow(prompt, obj, where), answer, has_answer, label))
    if not rows:
        raise PromptsFileError(f'{path}: no prompts (one JSON object with a "prompt" a line)')
    return tuple(rows)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@functools.lru_cache(maxsize=32)
def _checked(
    path: str, stamp: tuple[float, int], reward: str, metric: str
) -> tuple[tuple[Row, ...], Scorer, Scorer]:
    """Read the file, parse the specs, check every row, probe the model-free scorers on the
    empty completion (once per file state and specs)."""
    rows = read_prompts(Path(path))
    scorers = (parse_spec(reward), parse_spec(metric))
    if scorers[1].needs_lm:
        raise RewardSpecError(
            f"metric {metric!r} needs the model, which evaluation does not run (the rows' ppl "
            "column is the model's likelihood of the answer); set prompts.metric to another spec"
        )
    for row in rows:
        for role, scorer in zip(("reward", "metric"), scorers, strict=True):
            scorer.check_row(row.public, row.answer, row.has_answer)
            if not scorer.needs_lm:
                sees = scorer.sees_answer or role == "metric"
                ctx = Context(row.public, row.answer if sees else None)
                checked_scores(scorer, [""], ctx, role)
    return rows, scorers[0], scorers[1]


@dataclass(frozen=True)
class PromptsTask(TaskBase):
    name: ClassVar[str] = "prompts"
    description: ClassVar[str] = (
        "Your prompts from a JSONL file (prompt, optional answer, metadata); reward and metric "
        "are specs: number, exact, regex:PATTERN, json[:SCHEMA.json], keywords, likelihood, "
        "python:MODULE:FUNCTION; success = metric score >= threshold."
    )
    metric_names: ClassVar[tuple[str, ...]] = ("score",)
    table_note: ClassVar[str] = (
        "score = the metric spec (prompts.metric, default the reward spec) on the method's "
        "answer, which sees the answer; success = score >= threshold; reward_sees_truth in the "
        "rows says whether the search reward saw the answer."
    )

    file: str = ""
    reward: str = "number"
    metric: str = ""
    threshold: float = 1.0
    chat: bool = True
    max_tokens: int = 64
    stop_at: tuple[str, ...] = ("\n",)
    sha256: str = ""

    def __post_init__(self) -> None:
        if not self.file:
            raise ValueError("task prompts needs a file: --set prompts.file=PATH.jsonl")
        path = Path(self.file).expanduser().resolve()
        if not path.is_file():
            raise PromptsFileError(f"{self.file}: no such prompts file")
        object.__setattr__(self, "file", str(path))
        object.__setattr__(self, "metric", self.metric or self.reward)
        stop = (self.stop_at,) if isinstance(self.stop_at, str) else tuple(self.stop_at)
        object.__setattr__(self, "stop_at", stop)
        if self.max_tokens < 1:
            raise ValueError(f"prompts max_tokens must be >= 1, got {self.max_tokens}")
        digest = file_sha256(path)
        if self.sha256 and self.sha256 != digest:
            raise PromptsFileError(
                f"{path} changed since this run started (sha256 {digest[:12]}, the run has "
                f"{self.sha256[:12]}); start a new run (another --out, or --force)"
            )
        object.__setattr__(self, "sha256", digest)
        _, scorer, _ = self._checked()
        # the instance's own value: whether this reward spec is given the answer
        object.__setattr__(self, "reward_sees_truth", scorer.sees_answer)

    def _checked(self) -> tuple[tuple[Row, ...], Scorer, Scorer]:
        st = os.stat(self.file)
        return _checked(self.file, (st.st_mtime, st.st_size), self.reward, self.metric)

    def instance_cap(self) -> int | None:
        return len(self._checked()[0])

    def instances(self, n: int) -> list[Instance]:
        rows = self._checked()[0]
        return [Instance(i, r.label, r.public, r.answer) for i, r in enumerate(rows[:n])]

    def max_new_tokens(self, public: Any) -> int:
        return self.max_tokens

    def stop(self) -> tuple[str, ...]:
        return self.stop_at

    def prompt_ids(self, lm: LanguageModel, public: PromptRow) -> list[int]:
        if self.chat:
            return lm.chat_prompt([{"role": "user", "content": public.prompt}])
        return lm.encode(public.prompt)

    def search_reward(
        self, lm: LanguageModel, prompt_ids: Sequence[int], public: Any, *, verifier: Any = None
    ) -> SpecReward:
        scorer = self._checked()[1]
        if scorer.sees_answer and verifier is None:
            raise ValueError(f"reward {self.reward!r} needs the answer (a verifier-reward)")
        return SpecReward(scorer, Context(public, verifier, lm, tuple(prompt_ids)))

    def evaluate(self, text: str, public: Any, truth: Any) -> dict[str, float]:
        metric = self._checked()[2]
        score = float(checked_scores(metric, [text], Context(public, truth), "metric")[0])
        return {"score": score, "success": float(score >= self.threshold)}


class SpecReward:
    """A batched search reward from a spec, bound to one prompt (`mctd_tree.protocols.Reward`)."""

    def __init__(self, scorer: Scorer, ctx: Context) -> None:
        self.scorer, self.ctx = scorer, ctx

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        return checked_scores(self.scorer, texts, self.ctx, "reward")
