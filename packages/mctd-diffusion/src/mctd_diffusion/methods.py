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
- ``cfg``: N = nfe / (2 steps) draws with classifier-free guidance toward the problem's
  ``guide_cond`` at ``scale`` (two rows per element and step: 2 NFE).
- ``fast_mctd``: the complexity-budget search of :mod:`mctd_diffusion.complexity` (UCT, K
  leaves per iteration, rollouts at capacity min(1, budget / 2), committed steps at full).

Every method is a function ``method(problem, args, **params) -> (states, best reward, tree or
None)``; ``args`` is a :class:`SampleArgs` (budget, tilt, samples wanted, generator, K: what
every method shares). ``METHODS`` maps names to them; :func:`run_method` runs one and
measures it (NFE, calls, FLOPs as run, wall time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from mctd_tree import Budget, Tree, dts, dts_star, sample_tree

from mctd_diffusion.complexity import complexity_search
from mctd_diffusion.problem import DenoisingProblem, DiffusionState
from mctd_diffusion.sampling import ancestral, best_of_groups, importance_resample
from mctd_diffusion.smc import smc

Drawn = tuple[list[DiffusionState], float, Tree | None]  # samples, best reward, search tree
Method = Callable[..., Drawn]


@dataclass(frozen=True)
class SampleArgs:
    """What every sampler takes: the NFE budget, the tilt lam of p exp(lam r), the samples
    wanted, the generator, and K (leaves per iteration of the tree searches; the others draw
    their samples in one batch)."""

    nfe: int
    lam: float
    n_out: int
    rng: np.random.Generator
    parallel: int = 32

    def count(self, per_sample: int) -> int:
        """How many samples of ``per_sample`` NFE the budget pays for (at least 1)."""
        return max(self.nfe // per_sample, 1)


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
    flops: int = 0


def sample_dts(
    problem: DenoisingProblem,
    a: SampleArgs,
    *,
    c_widen: float = 2.0,
    alpha: float = 0.8,
    select_lam: float | None = None,
) -> Drawn:
    """A DTS tree built to the budget, then ``n_out`` descents of it."""
    res = dts(
        problem,
        Budget(nfe=a.nfe),
        select_lam=select_lam,
        rng=a.rng,
        lam=a.lam,
        parallel=a.parallel,
        c_widen=c_widen,
        alpha=alpha,
    )
    assert res.tree is not None
    states = [res.tree.states[i] for i in sample_tree(res.tree, a.n_out, a.lam, a.rng)]
    return states, res.best_reward, res.tree


def sample_dts_star(
    problem: DenoisingProblem, a: SampleArgs, *, c_widen: float = 2.0, alpha: float = 0.8
) -> Drawn:
    """DTS* to the budget; the samples are its last ``n_out`` rollouts."""
    res = dts_star(
        problem,
        Budget(nfe=a.nfe),
        rng=a.rng,
        lam=a.lam,
        parallel=a.parallel,
        c_widen=c_widen,
        alpha=alpha,
    )
    return [s for s, _ in res.samples[-a.n_out :]], res.best_reward, res.tree


def sample_best_of_n(problem: DenoisingProblem, a: SampleArgs) -> Drawn:
    """N = nfe / steps prior draws; the best of each of up to ``n_out`` groups."""
    draws, rewards = ancestral(problem, a.count(problem.num_steps), a.rng)
    idx = best_of_groups(rewards, -(-len(draws) // a.n_out))  # ceil: <= n_out groups
    return [draws[i] for i in idx], float(rewards.max()), None


def sample_importance(problem: DenoisingProblem, a: SampleArgs) -> Drawn:
    """N = nfe / steps prior draws resampled with weights exp(lam r)."""
    draws, rewards = ancestral(problem, a.count(problem.num_steps), a.rng)
    idx = importance_resample(rewards, a.lam, a.n_out, a.rng)
    return [draws[i] for i in idx], float(rewards.max()), None


def sample_smc(problem: DenoisingProblem, a: SampleArgs) -> Drawn:
    """SMC with K = nfe / steps particles; ``n_out`` of them drawn without replacement."""
    out = smc(problem, a.count(problem.num_steps), a.lam, a.rng)
    k = len(out.samples)
    idx = a.rng.choice(k, size=min(a.n_out, k), replace=False)
    return [out.samples[i] for i in idx], float(out.rewards.max()), None


def _twice(guided: DenoisingProblem, a: SampleArgs) -> Drawn:
    """N = nfe / (2 steps) draws of a problem whose steps cost 2 NFE; the first ``n_out``."""
    draws, rewards = ancestral(guided, a.count(2 * guided.num_steps), a.rng)
    return draws[: a.n_out], float(rewards.max()), None


def sample_guided(problem: DenoisingProblem, a: SampleArgs) -> Drawn:
    """N = nfe / (2 steps) draws of the problem guided at scale ``lam``."""
    return _twice(problem.with_guidance(a.lam), a)


def sample_cfg(problem: DenoisingProblem, a: SampleArgs, *, scale: float = 2.0) -> Drawn:
    """N = nfe / (2 steps) draws with classifier-free guidance toward ``guide_cond``."""
    return _twice(problem.with_cfg(scale), a)


def sample_fast_mctd(
    problem: DenoisingProblem,
    a: SampleArgs,
    *,
    complexity: float = 1.0,
    c: float = math.sqrt(2.0),
    c_widen: float = 1.0,
    alpha: float = 0.5,
    by_noise: bool = False,
) -> Drawn:
    """The complexity-budget search (``mctd_diffusion.complexity``) to the NFE budget."""
    return complexity_search(
        problem,
        a.nfe,
        budget=complexity,
        n_out=a.n_out,
        rng=a.rng,
        parallel=a.parallel,
        c=c,
        c_widen=c_widen,
        alpha=alpha,
        by_noise=by_noise,
    )


METHODS: dict[str, Method] = {
    "dts": sample_dts,
    "dts_star": sample_dts_star,
    "best_of_n": sample_best_of_n,
    "importance": sample_importance,
    "smc": sample_smc,
    "guidance": sample_guided,
    "cfg": sample_cfg,
    "fast_mctd": sample_fast_mctd,
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
    start, flops0, t0 = problem.counters.snapshot(), problem.flops, time.perf_counter()
    args = SampleArgs(nfe, lam, n_out, np.random.default_rng(seed), parallel)
    states, best, tree = method(problem, args, **params)
    used = problem.counters.since(start)
    x = problem.to_array(states)
    rewards = problem.rewards(states)
    wall = time.perf_counter() - t0
    return MethodRun(x, rewards, best, used.nfe, used.calls, wall, tree, problem.flops - flops0)
