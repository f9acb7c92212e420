"""Tasks as plug-ins: a tiny package installed into the test environment registers a task through
the ``mctd_eval.tasks`` entry-point group; ``mctd-eval list`` shows it and ``run`` runs it.

"Installed" the way an installer does it: a ``.dist-info`` folder (METADATA, entry_points.txt)
beside the package's module, in a folder on ``sys.path``. That needs nothing from the network or
from the locked environment (``nox -s tests-cpu`` syncs it ``--locked --exact``), and
``importlib.metadata`` finds it exactly as it finds a pip-installed distribution.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mctd_eval.tasks import BROKEN, TASKS, get_task, load_tasks

MODULE = """
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from mctd_eval.tasks.base import Instance, TaskBase


@dataclass(frozen=True)
class CountATask(TaskBase):
    name: ClassVar[str] = "count-a"
    description: ClassVar[str] = "write the letter a: reward = share of a's"
    metric_names: ClassVar[tuple[str, ...]] = ("share",)
    length: int = 6

    def instances(self, n):
        return [Instance(i, f"a{i}", "a" * (i + 1), None) for i in range(n)]

    def max_new_tokens(self, public):
        return self.length

    def prompt_ids(self, lm, public):
        return lm.encode(public)

    def search_reward(self, lm, prompt_ids, public, *, verifier=None):
        return lambda texts: np.array([t.count("a") / max(len(t), 1) for t in texts])

    def evaluate(self, text, public, truth):
        share = text.count("a") / max(len(text), 1)
        return {"share": share, "success": float(share > 0.5)}


class NotATask:
    pass
"""
ENTRY_POINTS = """[mctd_eval.tasks]
count-a = tiny_task_plugin:CountATask
not-a-task = tiny_task_plugin:NotATask
gone = tiny_task_plugin:Missing
"""


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[Path]:
    """The tiny package ``tiny-task-plugin`` installed on a fresh ``sys.path`` entry."""
    site = tmp_path / "site"
    dist = site / "tiny_task_plugin-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (site / "tiny_task_plugin.py").write_text(MODULE)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tiny-task-plugin\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()
    load_tasks()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("tiny_task_plugin", None)
        importlib.invalidate_caches()
        load_tasks()


def test_builtin_tasks_register_through_the_entry_points() -> None:
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="mctd_eval.tasks")}
    for name, cls in TASKS.items():
        assert eps[name].load() is cls
        assert eps[name].dist is not None and eps[name].dist.name == "mctd-evaluator"
    assert not BROKEN


def test_a_plugin_task_is_listed_and_runs(plugin: Path, cli: Any, toy_run: Any) -> None:
    assert list(TASKS)[-1] == "count-a"  # after the built-ins
    listed = cli("list")
    assert listed.exit_code == 0, listed.output
    assert "count-a (lm): write the letter a" in listed.output
    info = json.loads(cli("list", "--json").output)
    assert info["tasks"]["count-a"]["params"] == {"seed": 0, "length": 6}
    assert "not-a-task" in info["broken_tasks"] and "gone" in info["broken_tasks"]
    out = plugin.parent / "run"
    res = toy_run(
        out,
        "--tasks",
        "count-a",
        "--methods",
        "greedy,best_of_n",
        "--budgets",
        "30",
        "--prompts",
        "2",
        "--set",
        "count-a.length=4",
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == {"count-a"} and len(rows) == 4
    assert all(0 <= r["share"] <= 1 and r["length"] <= 4 for r in rows)
    assert "| share |" in res.output  # the plug-in's own metric is a table column


def test_a_broken_plugin_is_a_clear_error(plugin: Path, toy_run: Any) -> None:
    with pytest.raises(ValueError, match=r"not a subclass of mctd_eval\.tasks\.TaskBase"):
        get_task("not-a-task")
    res = toy_run(plugin.parent / "run", "--tasks", "gone")
    assert res.exit_code == 2
    assert "task plug-in 'gone' (tiny_task_plugin:Missing, from tiny-task-plugin)" in res.output
    assert "failed to load: AttributeError" in res.output
    assert "forecast" in TASKS  # the other tasks are unaffected
