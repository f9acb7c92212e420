"""Task plug-ins: a registry from name to task class."""

from __future__ import annotations

from typing import Any

from mctd_eval.tasks.arith import ArithTask
from mctd_eval.tasks.base import Instance, TaskBase
from mctd_eval.tasks.forecast import ForecastTask
from mctd_eval.tasks.gmm2d import Gmm2dEvalTask
from mctd_eval.tasks.keywords import KeywordsTask
from mctd_eval.tasks.maze import MazeGiantTask, MazeLargeTask, MazeMediumTask, MazeTask

TASKS: dict[str, type[TaskBase]] = {
    t.name: t
    for t in (
        ForecastTask,
        ArithTask,
        KeywordsTask,
        Gmm2dEvalTask,
        MazeMediumTask,
        MazeLargeTask,
        MazeGiantTask,
    )
}


def task_family(name: str) -> str:
    """ "lm" (language-model tasks), "diffusion" (denoiser tasks) or "maze" (maze planners);
    unknown names are "lm"."""
    return TASKS[name].family if name in TASKS else "lm"


def family_tasks(family: str) -> list[str]:
    return [n for n, t in TASKS.items() if t.family == family]


def task_names() -> list[str]:
    return list(TASKS)


def get_task(name: str, params: dict[str, Any] | None = None) -> TaskBase:
    """The task ``name`` built from ``params``; unknown names list the valid ones."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")
    return TASKS[name].from_params(dict(params or {}))


__all__ = [
    "TASKS",
    "Instance",
    "MazeTask",
    "TaskBase",
    "family_tasks",
    "get_task",
    "task_family",
    "task_names",
]
