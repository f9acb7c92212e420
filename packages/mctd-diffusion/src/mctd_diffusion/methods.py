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

Every method is a function ``method(problem, nfe, *, lam, n_out, rng, parallel, **params) ->
(states, best reward, tree or None)`` (``parallel``: leaves per iteration of the tree searches;
the others draw their samples in one batch). ``METHODS`` maps names to them; :func:`run_method`
runs one and measures it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from mctd_tree import Budget, Tree, dts, dts_star, sample_tree

from mctd_diffusion.problem import DenoisingProblem, DiffusionState
from mctd_diffusion.sampling import ancestral, best_of_groups, importance_resample
from mctd_diffusion.smc import smc

Drawn = tuple[list[DiffusionState], float, Tree | None]  # samples, best reward, search tree
Method = Callable[..., Drawn]


@dataclass
class MethodRun:
    """Samples (n, *shape) with their rewards, the best reward found, and the compute spent."""

    samples: np.ndarray
    rewards: np.ndarray
    best_reward: float
    nfe: int
    calls: int
    wall_time: float
    tree: Tree | None = None


def sample_dts(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
    c_widen: float = 2.0,
    alpha: float = 0.8,
    select_lam: float | None = None,
) -> Drawn:
    """A DTS tree built to the budget, then ``n_out`` descents of it."""
    res = dts(
        problem,
        Budget(nfe=nfe),
        select_lam=select_lam,
        rng=rng,
        lam=lam,
        parallel=parallel,
        c_widen=c_widen,
        alpha=alpha,
    )
    assert res.tree is not None
    states = [res.tree.states[i] for i in sample_tree(res.tree, n_out, lam, rng)]
    return states, res.best_reward, res.tree


def sample_dts_star(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
    c_widen: float = 2.0,
    alpha: float = 0.8,
) -> Drawn:
    """DTS* to the budget; the samples are its last ``n_out`` rollouts."""
    res = dts_star(
        problem,
        Budget(nfe=nfe),
        rng=rng,
        lam=lam,
        parallel=parallel,
        c_widen=c_widen,
        alpha=alpha,
    )
    return [s for s, _ in res.samples[-n_out:]], res.best_reward, res.tree


def sample_best_of_n(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
) -> Drawn:
    """N = nfe / steps prior draws; the best of each of up to ``n_out`` groups."""
    draws, rewards = ancestral(problem, _count(nfe, problem.num_steps), rng)
    idx = best_of_groups(rewards, -(-len(draws) // n_out))  # ceil: <= n_out groups
    return [draws[i] for i in idx], float(rewards.max()), None


def sample_importance(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
) -> Drawn:
    """N = nfe / steps prior draws resampled with weights exp(lam r)."""
    draws, rewards = ancestral(problem, _count(nfe, problem.num_steps), rng)
    idx = importance_resample(rewards, lam, n_out, rng)
    return [draws[i] for i in idx], float(rewards.max()), None


def sample_smc(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
) -> Drawn:
    """SMC with K = nfe / steps particles; ``n_out`` of them drawn without replacement."""
    out = smc(problem, _count(nfe, problem.num_steps), lam, rng)
    k = len(out.samples)
    idx = rng.choice(k, size=min(n_out, k), replace=False)
    return [out.samples[i] for i in idx], float(out.rewards.max()), None


def sample_guided(
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 32,
) -> Drawn:
    """N = nfe / (2 steps) draws of the problem guided at scale ``lam``."""
    guided = problem.with_guidance(lam)
    draws, rewards = ancestral(guided, _count(nfe, 2 * problem.num_steps), rng)
    return draws[:n_out], float(rewards.max()), None


METHODS: dict[str, Method] = {
    "dts": sample_dts,
    "dts_star": sample_dts_star,
    "best_of_n": sample_best_of_n,
    "importance": sample_importance,
    "smc": sample_smc,
    "guidance": sample_guided,
}


def run_method(
    method: str | Method,
    problem: DenoisingProblem,
    nfe: int,
    *,
    lam: float,
    n_out: int,
    seed: int,
    parallel: int = 32,
    **params: Any,
) -> MethodRun:
    """Run ``method`` (a name in METHODS, or such a function) with an NFE budget and measure it."""
    if isinstance(method, str):
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {tuple(METHODS)}")
        method = METHODS[method]
    if nfe < 1 or n_out < 1:
        raise ValueError(f"nfe and n_out must be >= 1, got {nfe}, {n_out}")
    start, t0 = problem.counters.snapshot(), time.perf_counter()
    rng = np.random.default_rng(seed)
    states, best, tree = method(
        problem, nfe, lam=lam, n_out=n_out, rng=rng, parallel=parallel, **params
    )
    used = problem.counters.since(start)
    x = problem.to_array(states)
    return MethodRun(
        x, problem.rewards(states), best, used.nfe, used.calls, time.perf_counter() - t0, tree
    )


def _count(nfe: int, per_sample: int) -> int:
    return max(nfe // per_sample, 1)
