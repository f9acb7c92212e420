"""The search reward never receives the ground truth (forecast, keywords); arith's verifier does,
and says so."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from mctd_eval.backends import load_lm
from mctd_eval.config import Cell, RunConfig
from mctd_eval.runner import CellRunner

SEARCH_FIELDS = ("reward", "answer", "answer_tokens", "nfe", "calls", "n_samples", "nodes")


class Tripwire:
    """A truth that records any use of it."""

    touched = False

    def _trip(self, *args: Any, **kwargs: Any) -> Any:
        Tripwire.touched = True
        raise AssertionError("the ground truth was used")

    __array__ = __iter__ = __len__ = __getitem__ = __eq__ = __float__ = __int__ = _trip
    __hash__ = None  # type: ignore[assignment]


def _runner(task: str) -> CellRunner:
    params = {"forecast": {"series": ["sunspots"], "horizon": 6, "history": 16}}
    cfg = RunConfig(
        tasks=[task],
        methods=["best_of_n", "maxent_ts"],
        budgets=[60],
        prompts=1,
        backend="toy",
        task_params={k: v for k, v in params.items() if k == task},
    ).resolved()
    return CellRunner(load_lm("toy"), cfg)


@pytest.mark.parametrize("task", ["forecast", "keywords"])
@pytest.mark.parametrize("method", ["best_of_n", "maxent_ts"])
def test_poisoned_truth_leaves_the_search_unchanged(task: str, method: str) -> None:
    runner = _runner(task)
    inst = runner.instance(task, 0)
    poison = np.full(6, 1e9) if task == "forecast" else ("zebra", "quartz")
    cell = Cell(task, 0, method, 60, 0)
    clean, poisoned = runner.run(cell, inst), runner.run(cell, replace(inst, truth=poison))
    for f in SEARCH_FIELDS:
        assert clean[f] == poisoned[f], f
    # ... while the evaluation did see the (poisoned) truth
    if task == "keywords":
        assert poisoned["coverage"] == 0.0


@pytest.mark.parametrize("task", ["forecast", "keywords"])
def test_search_never_touches_the_truth(task: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = _runner(task)
    inst = replace(runner.instance(task, 0), truth=Tripwire())
    Tripwire.touched = False
    seen: list[bool] = []

    def evaluate(self: Any, text: str, public: Any, truth: Any) -> dict[str, float]:
        seen.append(Tripwire.touched)  # checked before evaluation itself uses the truth
        return {"success": 0.0}

    monkeypatch.setattr(type(runner.tasks[task]), "evaluate", evaluate)
    runner.run(Cell(task, 0, "maxent_ts", 60, 0), inst)
    assert seen == [False]


def test_arith_reward_is_a_declared_verifier() -> None:
    runner = _runner("arith")
    row = runner.run(Cell("arith", 0, "best_of_n", 60, 0))
    assert row["reward_sees_truth"] is True
