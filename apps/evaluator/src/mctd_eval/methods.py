"""The compared methods: per task family, a registry from name to a working callable.

Each family has one runner (``runner.CellRunner``, ``diffusion.DiffusionRunner``,
``maze.MazeRunner``, ``digits.DigitsRunner``) that builds the cell's problem and calls
``Method.run`` with the family's signature; ``run`` is a ``functools.partial`` over the real
function (as mctx composes policies), or the function itself:

- ``lm``: ``run(problem, budget, params, rng) -> SearchResult`` over ``mctd_tree``'s searches;
- ``diffusion``: ``run(task=, model=, nfe=, seed=, **task and method params) -> metrics`` over
  ``mctd_diffusion.tasks.gmm2d.evaluate_cell`` with one of ``mctd_diffusion.methods``' samplers;
- ``maze``: ``run(budget, task) -> (planner, sparse)``: the planner of
  ``mctd_diffusion.maze.evaluate.default_methods`` at the cell's budget and the task's settings;
- ``image``: ``run`` is one of ``mctd_diffusion.methods``' samplers ``(problem, SampleArgs,
  **params)``, which ``digits.DigitsRunner`` runs through ``run_method``.

Budgeted methods (best-of-N and the tree searches) get ``Budget(nfe=B)``: they stop at the first
iteration boundary past B positions, so the NFE actually spent is measured and recorded, never
assumed. Greedy and beam search have no budget knob and run at their natural cost (recorded too).

Defaults suit rewards in [0, 1]: lam = 10 tilts p_theta noticeably; k = 4 children; 4 leaves per
iteration (batched rollouts are what makes a CPU fast); DTS widening alpha = 0.7 (the DTS paper's
value for text) and a max backup for DTS* (what worked best for text there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from mctd_diffusion import methods as dm
from mctd_diffusion.maze.evaluate import Planner, default_methods
from mctd_diffusion.tasks.gmm2d import evaluate_cell
from mctd_tree import (
    Budget,
    SearchResult,
    beam_search,
    best_of_n,
    dts,
    dts_star,
    greedy,
    maxent_ts,
    mcts,
)


@dataclass(frozen=True)
class Method:
    """A method of one family: ``run`` is called by the family's runner (see the module doc)."""

    name: str
    budgeted: bool
    description: str
    run: Callable[..., Any]
    defaults: dict[str, Any] = field(default_factory=dict)

    def resolve(self, params: dict[str, Any] | None) -> dict[str, Any]:
        """Defaults overridden by ``params``; unknown names raise with the valid ones listed."""
        params = dict(params or {})
        unknown = sorted(set(params) - set(self.defaults))
        if unknown:
            valid = ", ".join(self.defaults) or "(none)"
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for method {self.name!r}; "
                f"valid: {valid}"
            )
        return {**self.defaults, **params}


def _need(budget: Budget | None) -> Budget:
    if budget is None:
        raise ValueError("this method needs an NFE budget")
    return budget


def _budgeted(
    search: Callable[..., SearchResult[Any]],
    problem: Any,
    budget: Budget | None,
    params: dict[str, Any],
    rng: np.random.Generator,
) -> SearchResult[Any]:
    """``search(problem, budget, rng=rng, **params)``: a tree search or best-of-N."""
    return search(problem, _need(budget), rng=rng, **params)


def _greedy(
    problem: Any, budget: Budget | None, params: dict[str, Any], rng: np.random.Generator
) -> SearchResult[Any]:
    return greedy(problem)


def _beam(
    problem: Any, budget: Budget | None, params: dict[str, Any], rng: np.random.Generator
) -> SearchResult[Any]:
    return beam_search(problem, params["width"])


def _best_of_n(
    problem: Any, budget: Budget | None, params: dict[str, Any], rng: np.random.Generator
) -> SearchResult[Any]:
    return best_of_n(problem, _need(budget), batch_size=params["batch"], rng=rng)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "greedy",
            False,
            "argmax token at every step; natural cost (about one position per token)",
            _greedy,
        ),
        Method(
            "best_of_n",
            True,
            "sample completions in batches of `batch` until the NFE budget; keep the best",
            _best_of_n,
            {"batch": 4},
        ),
        Method(
            "beam",
            False,
            "beam search on cumulative log p_theta, width `width`; natural cost",
            _beam,
            {"width": 4},
        ),
        Method(
            "mcts",
            True,
            "MCTS over top-k tokens (UCT or PUCT), mean backup",
            partial(_budgeted, mcts),
            {"k": 4, "selection": "uct", "backup": "mean", "c": math.sqrt(2.0), "parallel": 4},
        ),
        Method(
            "dts",
            True,
            "Diffusion Tree Sampling: sampled children, widening, soft backup",
            partial(_budgeted, dts),
            {"lam": 10.0, "c_widen": 2.0, "alpha": 0.7, "parallel": 4, "select_lam": None},
        ),
        Method(
            "dts_star",
            True,
            "DTS*: the DTS tree searched with UCT, max backup",
            partial(_budgeted, dts_star),
            {
                "lam": 10.0,
                "c": math.sqrt(2.0),
                "backup": "max",
                "c_widen": 2.0,
                "alpha": 0.7,
                "parallel": 4,
            },
        ),
        Method(
            "maxent_ts",
            True,
            "MaxEnt-TS: top-k children, p_theta-weighted soft values",
            partial(_budgeted, maxent_ts),
            {"k": 4, "lam": 10.0, "parallel": 4},
        ),
    )
}


def _gmm2d(sampler: dm.Method) -> Callable[..., dict[str, Any]]:
    """A gmm2d cell of ``sampler``: ``evaluate_cell`` with the sampler bound."""
    return partial(evaluate_cell, method=sampler)


_WIDEN = {"c_widen": 2.0, "alpha": 0.8}

# The samplers of mctd_diffusion.methods at a matched NFE budget (NFE = denoiser evaluations per
# batch element, a guided call counts 2): (name, description, sampler, defaults). Diffusion tasks
# (gmm2d) run them through evaluate_cell; image tasks (digits) add cfg and fast_mctd.
_SAMPLERS: tuple[tuple[str, str, dm.Method, dict[str, Any]], ...] = (
    (
        "dts",
        "DTS over the denoising chain; samples = descents of the tree (select_lam: a "
        "selection temperature, e.g. 0.3; None = lam, the paper's rule)",
        dm.sample_dts,
        {**_WIDEN, "select_lam": None},
    ),
    (
        "dts_star",
        "DTS*: UCT on the DTS tree, max backup; samples = its rollouts",
        dm.sample_dts_star,
        _WIDEN,
    ),
    ("best_of_n", "N = NFE / steps prior draws; best of groups", dm.sample_best_of_n, {}),
    (
        "importance",
        "the same N draws resampled with weights exp(lam r)",
        dm.sample_importance,
        {},
    ),
    ("smc", "SMC / Feynman-Kac steering on the branch schedule", dm.sample_smc, {}),
    (
        "guidance",
        "reward-gradient guidance of scale lam (a guided call counts 2 NFE)",
        dm.sample_guided,
        {},
    ),
)

DIFFUSION_METHODS: dict[str, Method] = {
    name: Method(name, True, text, _gmm2d(fn), dict(d)) for name, text, fn, d in _SAMPLERS
}

# The methods of image tasks (digits): the samplers themselves, run by
# mctd_eval.digits.DigitsRunner through run_method (FLOPs as run), plus CFG and the
# complexity-budget search.
IMAGE_METHODS: dict[str, Method] = {
    **{name: Method(name, True, text, fn, dict(d)) for name, text, fn, d in _SAMPLERS},
    "cfg": Method(
        "cfg",
        True,
        "classifier-free guidance toward the target class at `scale` (2 NFE a step)",
        dm.sample_cfg,
        {"scale": 2.0},
    ),
    "fast_mctd": Method(
        "fast_mctd",
        True,
        "Fast-MCTD-style parallel UCT search; rollouts at MoR capacity min(1, complexity/2), "
        "committed steps at full capacity (complexity: e.g. 0.5 / 1.0 / 1.5)",
        dm.sample_fast_mctd,
        {"complexity": 1.0, "c": math.sqrt(2.0), "c_widen": 1.0, "alpha": 0.5, "by_noise": False},
    ),
}


def maze_planner(name: str, budget: int | None, task: Any) -> tuple[Planner, bool]:
    """(planner, runs on the sparse model) of ``default_methods``' ``name`` at ``budget`` (MCTD
    expansions; unused by diffuser, df and best_of_n) with ``task``'s parallel, scale and warp."""
    table = default_methods(budget or 1, task.parallel, task.scale, task.warp_factor)
    return table[name]


# The planners of maze tasks (mctd_diffusion.maze.evaluate.default_methods); the budget of a
# cell is MCTD's expansions; NFE = planner evaluations per batch element (a guided call counts 2).
MAZE_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "diffuser",
            False,
            "one-shot full-sequence denoising, guided at the task's scale",
            partial(maze_planner, "diffuser"),
        ),
        Method(
            "df",
            False,
            "single-pass Diffusion Forcing (pyramid schedule), guided at the task's scale",
            partial(maze_planner, "df"),
        ),
        Method(
            "mctd",
            True,
            "MCTD: tree search over guidance levels with jumpy simulation; budget = expansions",
            partial(maze_planner, "mctd"),
        ),
        Method(
            "best_of_n",
            True,
            "N pyramid samples, the best by MCTD's value; N matched to mctd's NFE at the same "
            "(task, seed, budget) unless n is set",
            partial(maze_planner, "best_of_n"),
            {"n": None},
        ),
        Method(
            "p_mctd",
            True,
            "P-MCTD: MCTD expanding the task's `parallel` leaves per batched call",
            partial(maze_planner, "p_mctd"),
        ),
        Method(
            "s_mctd",
            True,
            "S-MCTD: MCTD on the sparse (stride 5) planner",
            partial(maze_planner, "s_mctd"),
        ),
        Method(
            "fast_mctd",
            True,
            "Fast-MCTD: parallel MCTD on the sparse planner (P-MCTD + S-MCTD)",
            partial(maze_planner, "fast_mctd"),
        ),
    )
}

# Method registries per task family (a task's ``family``: "lm", "diffusion", "maze", "image").
FAMILIES: dict[str, dict[str, Method]] = {
    "lm": METHODS,
    "diffusion": DIFFUSION_METHODS,
    "maze": MAZE_METHODS,
    "image": IMAGE_METHODS,
}


def method_names(family: str = "lm") -> list[str]:
    return list(FAMILIES[family])


def all_method_names() -> list[str]:
    return list(dict.fromkeys(n for reg in FAMILIES.values() for n in reg))


def get_method(name: str, family: str = "lm") -> Method:
    reg = FAMILIES[family]
    if name not in reg:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(reg)}")
    return reg[name]
