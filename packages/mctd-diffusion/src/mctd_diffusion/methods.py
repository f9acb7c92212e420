"""Sampling / search methods on a denoising problem at a matched NFE budget.

Each method spends about ``nfe`` network evaluations (per element; a guided call counts 2) and
returns up to ``n_out`` samples for distribution metrics plus the best reward it found:
- ``dts``: a DTS tree built to the budget, then ``n_out`` descents (no extra NFE). Widening
  C N^alpha (``c_widen``, ``alpha``; the paper's 2, 0.8 by default): narrower trees go deeper, and
  rollouts from deep nodes cost fewer NFE, so more simulations fit in a budget. ``select_lam``
  tempers selection only (see ``mctd_tree.dts``: less bias toward the prior at moderate budgets).
- ``dts_star``: DTS* (UCT on the same tree); its samples are its rollouts (for reward only).
- ``best_of_n``: N = nfe / steps prior draws; samples are the best of groups of N / n_out.
- ``importance``: the same N draws resampled with weights exp(lam r) (self-normalised IS).
- ``smc``: K = nfe / steps particles with Feynman-Kac steering on the branch schedule.
- ``guidance``: N = nfe / (2 steps) draws with reward-gradient guidance of scale lam.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from mctd_tree import Budget, Tree, dts, dts_star, sample_tree

from mctd_diffusion.problem import DenoisingProblem
from mctd_diffusion.sampling import ancestral, best_of_groups, importance_resample
from mctd_diffusion.smc import smc

METHODS = ("dts", "dts_star", "best_of_n", "importance", "smc", "guidance")


@dataclass
class MethodRun:
    """Samples (n, *shape) with their rewards, the best reward found, the compute spent, and
    the search tree of the tree methods (``dts``, ``dts_star``; None for the others)."""

    samples: np.ndarray
    rewards: np.ndarray
    best_reward: float
    nfe: int
    calls: int
    wall_time: float
    tree: Tree | None = None


def run_method(
    method: str,
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    seed: int,
    parallel: int = 32,
    c_widen: float = 2.0,
    alpha: float = 0.8,
    select_lam: float | None = None,
) -> MethodRun:
    """Run ``method`` (one of METHODS) with an NFE budget; see the module docstring."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
    if nfe < 1 or n_out < 1:
        raise ValueError(f"nfe and n_out must be >= 1, got {nfe}, {n_out}")
    start, t0 = problem.counters.snapshot(), time.perf_counter()
    rng = np.random.default_rng(seed)
    steps = problem.num_steps
    tree = None
    widen = {"lam": lam, "parallel": parallel, "c_widen": c_widen, "alpha": alpha}
    if method == "dts":
        res = dts(problem, Budget(nfe=nfe), select_lam=select_lam, rng=rng, **widen)
        assert res.tree is not None
        states = [res.tree.states[i] for i in sample_tree(res.tree, n_out, lam, rng)]
        best, tree = res.best_reward, res.tree
    elif method == "dts_star":
        res = dts_star(problem, Budget(nfe=nfe), rng=rng, **widen)
        states, best = [s for s, _ in res.samples[-n_out:]], res.best_reward
        tree = res.tree
    elif method in ("best_of_n", "importance"):
        draws, rewards = ancestral(problem, _count(nfe, steps), rng)
        if method == "best_of_n":
            idx = best_of_groups(rewards, -(-len(draws) // n_out))  # ceil: <= n_out groups
        else:
            idx = importance_resample(rewards, lam, n_out, rng)
        states, best = [draws[i] for i in idx], float(rewards.max())
    elif method == "smc":
        out = smc(problem, _count(nfe, steps), lam, rng)
        k = len(out.samples)
        idx = rng.choice(k, size=min(n_out, k), replace=False)
        states, best = [out.samples[i] for i in idx], float(out.rewards.max())
    else:
        scale = problem.guidance_scale
        problem.guidance_scale = lam
        try:
            draws, rewards = ancestral(problem, _count(nfe, 2 * steps), rng)
        finally:
            problem.guidance_scale = scale
        states, best = draws[:n_out], float(rewards.max())
    used = problem.counters.since(start)
    x = problem.to_array(states)
    return MethodRun(
        x, problem.rewards(states), best, used.nfe, used.calls, time.perf_counter() - t0, tree
    )


def _count(nfe: int, per_sample: int) -> int:
    return max(nfe // per_sample, 1)
