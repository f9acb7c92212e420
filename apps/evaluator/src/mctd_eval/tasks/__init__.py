"""Task plug-ins: a registry from name to task class."""

from __future__ import annotations

from typing import Any

from mctd_eval.tasks.arith import ArithTask
from mctd_eval.tasks.base import Instance, TaskBase
from mctd_eval.tasks.forecast import ForecastTask
from mctd_eval.tasks.keywords import KeywordsTask

TASKS: dict[str, type[TaskBase]] = {t.name: t for t in (ForecastTask, ArithTask, KeywordsTask)}


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str, params: dict[str, Any] | None = None) -> TaskBase:
    """The task ``name`` built from ``params``; unknown names list the valid ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name].from_params(dict(params or {}))


__all__ = ["TASKS", "Instance", "TaskBase", "get_task", "task_names"]
