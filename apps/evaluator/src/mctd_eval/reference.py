"""Rows of a task's model-free reference methods (forecast: naive and seasonal-naive).

A reference row has the columns of a language-model row so that it sits in the same table: no
model work (``nfe``, ``calls``, ``prompt_nfe``, ``reward_nfe`` 0), the task's reward of the
reference answer (``reward_sees_truth`` False: a reference never sees the truth), the task's
metrics, and no tree, tokens or samples. ``reference`` is True.
"""

from __future__ import annotations

import time
from typing import Any

from mctd_eval.config import Cell
from mctd_eval.tasks import Instance, TaskBase

ANSWER_CHARS = 300


def reference_row(task: TaskBase, cell: Cell, inst: Instance) -> dict[str, Any]:
    """The row of reference method ``cell.method`` on ``inst`` (JSON-ready after `clean`)."""
    t0 = time.perf_counter()
    text, reward, metrics = task.reference(cell.method, inst.public, inst.truth)
    wall = time.perf_counter() - t0
    return {
        "key": cell.key,
        "task": cell.task,
        "prompt": cell.prompt,
        "label": inst.label,
        "method": cell.method,
        "budget": None,
        "seed": cell.seed,
        "reference": True,
        "nfe": 0,
        "calls": 0,
        "prompt_nfe": 0,
        "reward_nfe": 0,
        "reward_calls": 0,
        "wall_s": wall,
        "simulations": 0,
        "iterations": 0,
        "nodes": None,
        "max_depth": None,
        "mean_branching": None,
        "reward": float(reward),
        "reward_sees_truth": False,
        "ppl": None,
        "length": None,
        "n_samples": 1,
        "distinct_1": None,
        "distinct_2": None,
        "dissimilarity": None,
        **metrics,
        "answer": text[:ANSWER_CHARS],
        "answer_tokens": [],
    }
