"""The compared methods: a registry from name to how to run it on a token search problem.

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
from typing import Any

import numpy as np
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

Runner = Callable[[Any, Budget | None, dict[str, Any], np.random.Generator], SearchResult[Any]]


@dataclass(frozen=True)
class Method:
    name: str
    budgeted: bool
    description: str
    run: Runner
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


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "greedy",
            False,
            "argmax token at every step; natural cost (about one position per token)",
            lambda p, b, kw, rng: greedy(p),
        ),
        Method(
            "best_of_n",
            True,
            "sample completions in batches of `batch` until the NFE budget; keep the best",
            lambda p, b, kw, rng: best_of_n(p, _need(b), batch_size=kw["batch"], rng=rng),
            {"batch": 4},
        ),
        Method(
            "beam",
            False,
            "beam search on cumulative log p_theta, width `width`; natural cost",
            lambda p, b, kw, rng: beam_search(p, kw["width"]),
            {"width": 4},
        ),
        Method(
            "mcts",
            True,
            "MCTS over top-k tokens (UCT or PUCT), mean backup",
            lambda p, b, kw, rng: mcts(p, _need(b), rng=rng, **kw),
            {"k": 4, "selection": "uct", "backup": "mean", "c": math.sqrt(2.0), "parallel": 4},
        ),
        Method(
            "dts",
            True,
            "Diffusion Tree Sampling: sampled children, widening, soft backup",
            lambda p, b, kw, rng: dts(p, _need(b), rng=rng, **kw),
            {"lam": 10.0, "c_widen": 2.0, "alpha": 0.7, "parallel": 4, "select_lam": None},
        ),
        Method(
            "dts_star",
            True,
            "DTS*: the DTS tree searched with UCT, max backup",
            lambda p, b, kw, rng: dts_star(p, _need(b), rng=rng, **kw),
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
            lambda p, b, kw, rng: maxent_ts(p, _need(b), rng=rng, **kw),
            {"k": 4, "lam": 10.0, "parallel": 4},
        ),
    )
}


def _runs_in(runner: str) -> Runner:
    """The ``run`` of a method that a family's own runner executes (never called directly)."""

    def refuse(*_: Any) -> Any:  # pragma: no cover - run by the family's runner
        raise RuntimeError(f"these methods run through {runner}")

    return refuse


_diffusion_only = _runs_in("mctd_eval.diffusion.DiffusionRunner")


_WIDEN = {"c_widen": 2.0, "alpha": 0.8}

# The methods of diffusion tasks (mctd_diffusion.methods, at a matched NFE budget; NFE =
# denoiser evaluations per batch element, a guided call counts 2).
DIFFUSION_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "dts",
            True,
            "DTS over the denoising chain; samples = descents of the tree (select_lam: a "
            "selection temperature, e.g. 0.3; None = lam, the paper's rule)",
            _diffusion_only,
            {**_WIDEN, "select_lam": None},
        ),
        Method(
            "dts_star",
            True,
            "DTS*: UCT on the DTS tree, max backup; samples = its rollouts",
            _diffusion_only,
            dict(_WIDEN),
        ),
        Method("best_of_n", True, "N = NFE / steps prior draws; best of groups", _diffusion_only),
        Method(
            "importance",
            True,
            "the same N draws resampled with weights exp(lam r)",
            _diffusion_only,
        ),
        Method("smc", True, "SMC / Feynman-Kac steering on the branch schedule", _diffusion_only),
        Method(
            "guidance",
            True,
            "reward-gradient guidance of scale lam (a guided call counts 2 NFE)",
            _diffusion_only,
        ),
    )
}


_maze_only = _runs_in("mctd_eval.maze.MazeRunner")


# The planners of maze tasks (mctd_diffusion.maze.evaluate.default_methods); the budget of a
# cell is MCTD's expansions; NFE = planner evaluations per batch element (a guided call counts 2).
MAZE_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "diffuser",
            False,
            "one-shot full-sequence denoising, guided at the task's scale",
            _maze_only,
        ),
        Method(
            "df",
            False,
            "single-pass Diffusion Forcing (pyramid schedule), guided at the task's scale",
            _maze_only,
        ),
        Method(
            "mctd",
            True,
            "MCTD: tree search over guidance levels with jumpy simulation; budget = expansions",
            _maze_only,
        ),
        Method(
            "best_of_n",
            True,
            "N pyramid samples, the best by MCTD's value; N matched to mctd's NFE at the same "
            "(task, seed, budget) unless n is set",
            _maze_only,
            {"n": None},
        ),
        Method(
            "p_mctd",
            True,
            "P-MCTD: MCTD expanding the task's `parallel` leaves per batched call",
            _maze_only,
        ),
        Method("s_mctd", True, "S-MCTD: MCTD on the sparse (stride 5) planner", _maze_only),
        Method(
            "fast_mctd",
            True,
            "Fast-MCTD: parallel MCTD on the sparse planner (P-MCTD + S-MCTD)",
            _maze_only,
        ),
    )
}

# Method registries per task family (a task's ``family``: "lm", "diffusion" or "maze").
FAMILIES: dict[str, dict[str, Method]] = {
    "lm": METHODS,
    "diffusion": DIFFUSION_METHODS,
    "maze": MAZE_METHODS,
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
