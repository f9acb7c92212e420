"""Task plug-ins: a registry from name to task class, filled from the entry-point group
``mctd_eval.tasks``.

Every task, built-in or not, is registered the same way: an entry point whose name is the task's
name and whose object is a `TaskBase` subclass, e.g. in a package's ``pyproject.toml``::

    [project.entry-points."mctd_eval.tasks"]
    wordcount = "my_package.tasks:WordCountTask"

The built-in tasks (this package's own entry points) come first, in `BUILTIN_ORDER`, then the
others sorted by name. A plug-in that fails to load is reported (``mctd-eval list``, and as
the error when it is asked for), never fatal for the other tasks. `load_tasks` rebuilds the
registry (in place) after installing a plug-in into a running process.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from mctd_eval.tasks.base import Instance, TaskBase
from mctd_eval.tasks.maze import MazeTask

GROUP = "mctd_eval.tasks"
OWN = "mctd-evaluator"
# the order of the built-in tasks in listings (package metadata sorts entry points by name)
BUILTIN_ORDER = (
    "forecast",
    "arith",
    "keywords",
    "prompts",
    "gmm2d",
    "maze-medium",
    "maze-large",
    "maze-giant",
    "digits",
)

TASKS: dict[str, type[TaskBase]] = {}
BROKEN: dict[str, str] = {}  # task name -> why its entry point could not be used


def _dist(ep: importlib.metadata.EntryPoint) -> str:
    dist = getattr(ep, "dist", None)
    return "" if dist is None else str(dist.metadata["Name"])


def _check(ep: importlib.metadata.EntryPoint, obj: Any) -> str | None:
    """Why ``obj`` cannot be the task ``ep.name`` (None if it can)."""
    if not (isinstance(obj, type) and issubclass(obj, TaskBase)):
        return f"{ep.value} is not a subclass of mctd_eval.tasks.TaskBase"
    if obj.name != ep.name:
        return f"{ep.value} has name {obj.name!r}, but its entry point is {ep.name!r}"
    if obj.family not in ("lm", "diffusion", "maze", "image"):
        return f"{ep.value} has family {obj.family!r}; valid: lm, diffusion, maze, image"
    return None


def load_tasks() -> dict[str, type[TaskBase]]:
    """(Re)read the entry points of group ``mctd_eval.tasks`` into `TASKS` and `BROKEN`."""
    eps = list(importlib.metadata.entry_points(group=GROUP))
    rank = {n: i for i, n in enumerate(BUILTIN_ORDER)}
    own = sorted(
        (ep for ep in eps if _dist(ep) == OWN), key=lambda ep: (rank.get(ep.name, 99), ep.name)
    )
    others = sorted((ep for ep in eps if _dist(ep) != OWN), key=lambda ep: ep.name)
    found: dict[str, type[TaskBase]] = {}
    broken: dict[str, str] = {}
    for ep in [*own, *others]:
        where = f"task plug-in {ep.name!r} ({ep.value}, from {_dist(ep) or 'an unknown package'})"
        if ep.name in found or ep.name in broken:
            broken.setdefault(f"{ep.name} ({_dist(ep)})", f"{where}: the name is taken already")
            continue
        try:
            obj = ep.load()
        except Exception as err:  # a broken plug-in must not break the other tasks
            broken[ep.name] = f"{where} failed to load: {type(err).__name__}: {err}"
            continue
        problem = _check(ep, obj)
        if problem:
            broken[ep.name] = f"{where}: {problem}"
        else:
            found[ep.name] = obj
    TASKS.clear()
    TASKS.update(found)
    BROKEN.clear()
    BROKEN.update(broken)
    return TASKS


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
    if name in BROKEN:
        raise ValueError(BROKEN[name])
    if name not in TASKS:
        hint = ""
        if "forecast" not in TASKS:
            hint = (
                " (the built-in tasks are not registered: the mctd-evaluator installation's "
                "metadata is stale; reinstall it, e.g. `uv sync`)"
            )
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}{hint}")
    return TASKS[name].from_params(dict(params or {}))


load_tasks()

__all__ = [
    "BROKEN",
    "GROUP",
    "TASKS",
    "Instance",
    "MazeTask",
    "TaskBase",
    "family_tasks",
    "get_task",
    "load_tasks",
    "task_family",
    "task_names",
]
