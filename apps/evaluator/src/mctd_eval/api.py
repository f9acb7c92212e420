"""The Python API: `evaluate` runs the ``prompts`` task through the same code as ``mctd-eval run``
(configuration, executor, cell runner, run directory, tables) and returns rows and summary.

``evaluate(lm, "qs.jsonl", "number", methods=["best_of_n", "dts"], budgets=[128])`` equals
``mctd-eval run --tasks prompts --set prompts.file=qs.jsonl --set prompts.reward=number
--methods best_of_n,dts --budgets 128`` (the same rows, up to wall times; tested). Rows and
summary are pandas DataFrames when pandas is installed, else lists of dicts.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mctd_tree.protocols import LanguageModel

from mctd_eval import execute
from mctd_eval.config import RunConfig, Runtime, apply_overrides
from mctd_eval.methods import METHODS
from mctd_eval.rundir import RunDir, write_atomic
from mctd_eval.summary import Group
from mctd_eval.tasks import get_task


@dataclass
class Evaluation:
    """What `evaluate` returns: ``rows`` (one per cell, as in ``results.jsonl``), ``summary`` (one
    per task x method x budget: n and each metric's mean, lo, hi, as in ``summary.csv``), the
    markdown tables, and the run directory (None when it was a temporary one)."""

    rows: Any
    summary: Any
    markdown: str
    run_dir: Path | None

    def _repr_markdown_(self) -> str:  # notebooks show the tables
        return self.markdown


def evaluate(
    model_or_lm: str | LanguageModel,
    prompts: str | Path | Sequence[str | Mapping[str, Any]],
    reward: str = "number",
    *,
    metric: str | None = None,
    methods: Sequence[str] | None = None,
    budgets: Sequence[int] = (128,),
    seeds: Sequence[int] = (0,),
    n_prompts: int | None = None,
    backend: str = "torch",
    sets: Sequence[str] = (),
    out: str | Path | None = None,
    force: bool = False,
    threads: int | None = 1,
    progress: bool = False,
    figures: bool = False,
) -> Evaluation:
    """Evaluate search methods on your prompts with a reward spec (see `mctd_eval.tasks.rewards`).

    ``model_or_lm``: a model name for ``backend`` ("default", a Hugging Face id, a local path) or
    a loaded `LanguageModel` (used as is; the run records ``in-process:<class>``). ``prompts``: a
    JSONL file, or rows (dicts with ``prompt``, optional ``answer`` and metadata, or plain prompt
    strings), which are written once to ``$MCTD_CACHE/prompts/<sha256>.jsonl``. ``metric``: the
    evaluation spec (default: ``reward``). ``methods``: default every language-model method.
    ``n_prompts``: the first N rows (default all). ``sets``: CLI-style overrides
    (``"temperature=0.7"``, ``"prompts.max_tokens=32"``, ``"dts.lam=4"``). ``out``: a run
    directory (resumable, as with the CLI); default a temporary one, removed afterwards (and no
    figures).
    """
    lm = None if isinstance(model_or_lm, str) else model_or_lm
    model = model_or_lm if isinstance(model_or_lm, str) else _label(model_or_lm)
    if lm is not None:
        backend = _backend_of(lm)
    path = _prompts_file(prompts)
    cfg = RunConfig(
        tasks=["prompts"],
        methods=list(methods) if methods is not None else list(METHODS),
        budgets=[int(b) for b in budgets],
        prompts=n_prompts if n_prompts is not None else 1_000_000,
        seeds=[int(s) for s in seeds],
        backend=backend,
        model=model,
        name=Path(out).name if out is not None else "evaluate",
    )
    params = {"file": str(path), "reward": reward}
    if metric:
        params["metric"] = metric
    cfg.task_params["prompts"] = params
    cfg = apply_overrides(cfg, list(sets))
    cfg = cfg.resolved()
    if n_prompts is None:  # all rows: the config records the count, as `--prompts N` would
        cfg.prompts = get_task("prompts", cfg.task_params["prompts"]).instance_cap() or 1
    runtime = Runtime("local", None, 1, threads if lm is None else None)
    if out is not None:
        result = execute.run(
            cfg, runtime, Path(out), force=force, progress=progress, figures=figures, lm=lm
        )
        return _collect(result.run_dir, result.groups, result.markdown, keep=True)
    with tempfile.TemporaryDirectory(prefix="mctd-eval-") as tmp:
        result = execute.run(
            cfg, runtime, Path(tmp) / "run", progress=progress, figures=False, lm=lm
        )
        return _collect(result.run_dir, result.groups, result.markdown, keep=False)


def _collect(run_dir: Path, groups: list[Group], markdown: str, keep: bool) -> Evaluation:
    rows = RunDir(run_dir).load().rows
    summary = []
    for g in groups:
        entry: dict[str, Any] = {
            "task": g.task,
            "method": g.method,
            "budget": g.budget_label,
            "n": g.n,
        }
        for name, e in g.metrics.items():
            entry |= {f"{name}_mean": e.mean, f"{name}_lo": e.lo, f"{name}_hi": e.hi}
        summary.append(entry)
    return Evaluation(_frame(rows), _frame(summary), markdown, run_dir if keep else None)


def _frame(records: list[dict[str, Any]]) -> Any:
    """A pandas DataFrame of ``records`` when pandas is installed, else the list itself."""
    try:
        import pandas as pd
    except ImportError:
        return records
    return pd.DataFrame.from_records(records)


def _label(lm: Any) -> str:
    cls = type(lm)
    return f"in-process:{cls.__module__}.{cls.__qualname__}"


def _backend_of(lm: Any) -> str:
    """The backend name recorded for an in-process model (its package decides)."""
    from mctd_tree.problems.toy_lm import ToyLM

    if isinstance(lm, ToyLM):
        return "toy"
    return "mlx" if type(lm).__module__.startswith("mctd_llm_mlx") else "torch"


def _cache() -> Path:
    return Path(os.environ.get("MCTD_CACHE", Path.home() / ".cache" / "mctd"))


def _prompts_file(prompts: str | Path | Sequence[str | Mapping[str, Any]]) -> Path:
    """A JSONL file holding ``prompts`` (the file itself when a path is given)."""
    if isinstance(prompts, str | Path):
        return Path(prompts)
    lines = []
    for i, p in enumerate(prompts):
        if isinstance(p, str):
            lines.append(json.dumps({"prompt": p}))
        elif isinstance(p, Mapping):
            lines.append(json.dumps(dict(p), sort_keys=True))
        else:
            raise ValueError(f"prompt {i} must be a string or a mapping, got {type(p).__name__}")
    if not lines:
        raise ValueError("give at least one prompt")
    data = "\n".join(lines) + "\n"
    path = _cache() / "prompts" / f"{hashlib.sha256(data.encode()).hexdigest()[:16]}.jsonl"
    if not path.is_file() or path.read_text() != data:
        write_atomic(path, data)
    return path
