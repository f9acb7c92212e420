"""Every method x task cell runs on a tiny random Llama; rows are deterministic and honest."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
import torch
from mctd_eval.config import Cell, RunConfig
from mctd_eval.methods import METHODS
from mctd_eval.runner import CellRunner
from mctd_eval.tasks import family_tasks, get_task

# the seeded language-model tasks (gmm2d: test_gmm2d.py; prompts: test_prompts.py)
TASKS = [t for t in family_tasks("lm") if t in ("forecast", "arith", "keywords")]

SMALL = {
    "forecast": {"series": ["nile"], "horizon": 4, "history": 10},
    "arith": {"max_tokens": 8},
    "keywords": {"max_tokens": 10, "words": 2},
}
BUDGET = 40


@pytest.fixture(scope="module")
def runner(tiny_lm: Any) -> CellRunner:
    cfg = RunConfig(
        tasks=list(TASKS),
        methods=list(METHODS),
        budgets=[BUDGET],
        prompts=1,
        task_params=SMALL,
    ).resolved()
    return CellRunner(tiny_lm, cfg)


def test_every_method_on_every_task(runner: CellRunner) -> None:
    cells = [c for c in runner.cfg.cells() if c.method in METHODS]
    assert len(cells) == len(TASKS) * len(METHODS)
    assert len(runner.cfg.cells()) == len(cells) + 2  # forecast's naive and seasonal-naive rows
    for cell in cells:
        row = runner.run(cell)
        assert row["key"] == cell.key
        assert row["nfe"] > 0 and row["calls"] > 0 and row["prompt_nfe"] > 0
        # only keywords' reward runs the model (its fluency), metered apart from the search
        assert row["reward_nfe"] >= 0 and row["reward_calls"] >= 0
        assert cell.task == "keywords" or row["reward_nfe"] == row["reward_calls"] == 0
        if METHODS[cell.method].budgeted:
            inst = runner.instance(cell.task, cell.prompt)
            assert_spent(row, BUDGET, runner.tasks[cell.task].max_new_tokens(inst.public))
        assert row["distribution"] == "p_theta at temperature 0.8, top-p 0.95"
        assert row["n_samples"] >= 1 and row["length"] >= 0
        assert row["success"] in (0.0, 1.0)
        assert row["ppl"] is None or row["ppl"] >= 1.0
        tree = cell.method in ("mcts", "dts", "dts_star", "maxent_ts")
        assert (row["nodes"] is not None) == tree
        for name in get_task(cell.task).metric_names:
            assert name in row
        assert row["reward_sees_truth"] == (cell.task == "arith")


def test_rows_are_deterministic(runner: CellRunner) -> None:
    cell = Cell("keywords", 0, "dts", BUDGET, 3)
    a, b = runner.run(cell), runner.run(cell)
    a.pop("wall_s"), b.pop("wall_s")
    assert a == b
    other = runner.run(replace(cell, seed=4))
    other.pop("wall_s")
    assert other != a  # another seed draws other tokens (DTS: another tree and descents)


def test_perplexity_is_of_the_completion_only(runner: CellRunner, tiny_lm: Any) -> None:
    """ppl from the row equals exp(-mean log p) of the answer's tokens from one full forward."""
    cell = Cell("arith", 0, "greedy", None, 0)
    row = runner.run(cell)
    task = runner.tasks["arith"]
    inst = runner.instance("arith", 0)
    prompt = task.prompt_ids(tiny_lm, inst.public)
    tokens = row["answer_tokens"]
    assert row["length"] == sum(t not in tiny_lm.eos_token_ids for t in tokens)
    ids = torch.tensor([prompt + tokens])
    with torch.no_grad():
        logp = torch.log_softmax(tiny_lm.model(input_ids=ids).logits[0].float(), -1)
    lps = [float(logp[len(prompt) + j - 1, t]) for j, t in enumerate(tokens)]
    assert row["ppl"] == pytest.approx(math.exp(-np.mean(lps)), rel=1e-3)


def assert_spent(row: dict[str, Any], budget: int, max_tokens: int) -> None:
    """Spent NFE in [0.9 B, B + one iteration's most], or the row says the tree is exhausted.

    One iteration's most: 4 leaves (K, or best-of-N's batch), each a proposal or draw, reads of
    cached distributions and a rollout of at most ``max_tokens`` positions."""
    if row["exhausted"]:
        assert row["nfe"] < 0.9 * budget
        return
    assert not row["stalled"]
    assert 0.9 * budget <= row["nfe"] <= budget + 4 * (max_tokens + 4), row["key"]


@pytest.mark.parametrize("budget", [BUDGET, 3 * BUDGET])
@pytest.mark.parametrize("method", [m for m in METHODS if METHODS[m].budgeted])
def test_every_budgeted_method_spends_its_budget(
    runner: CellRunner, method: str, budget: int
) -> None:
    row = runner.run(Cell("arith", 0, method, budget, 0))
    assert_spent(row, budget, SMALL["arith"]["max_tokens"])
    assert row["padded_nfe"] >= 0 and 0 <= row["read_nfe"] <= row["nfe"]
