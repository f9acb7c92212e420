"""The planners compared on point mazes, all returning a :class:`PlanResult`.

- ``diffuser``: one-shot full-sequence denoising (all tokens share a level), guided at one scale.
- ``df``: single-pass Diffusion Forcing (pyramid schedule), guided at one scale.
- ``best_of_n``: N pyramid samples in one batch (scales cycling through the guidance levels),
  the best by the MCTD value (same output preference as MCTD).
- ``mctd``: MCTD with ``parallel`` = 1; P-MCTD with ``parallel`` = K (virtual visits of weight w,
  delayed backup, no duplicate expansions). S-MCTD / Fast-MCTD are the same calls on the sparse
  planner (``every`` = 5, plans of N/5 tokens, depth 3, warp 2.0).
Counters: NFE per batch element (guided calls count 2), sequential batched calls, wall time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from mctd_tree import mcts

from mctd_diffusion.maze.maps import MazeMap
from mctd_diffusion.maze.mctd import GUIDANCE_LEVELS, MazePlanProblem
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.value import REACH, cut_at_reach, score_plans


@dataclass
class PlanResult:
    """A plan (S, 2) in world frame, held ``hold`` env steps per state, and its search counters.

    ``info`` also holds, for figures, ``candidates`` (every complete plan the planner made or
    simulated, (S, 2) each) with ``rejected`` flags, and for MCTD the search ``tree`` and the
    guidance ``levels`` its actions index."""

    plan: np.ndarray
    hold: int
    nfe: int
    calls: int
    wall_time: float
    expansions: int
    simulated: int
    rejected: int
    chosen_by: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def rejected_frac(self) -> float:
        return self.rejected / max(1, self.simulated)


def _pick(
    den: PlanDenoiser,
    maze: MazeMap,
    plans: np.ndarray,
    start: np.ndarray,
    goal: np.ndarray,
    warp: float,
) -> tuple[np.ndarray, str, int]:
    """MCTD's output preference over a set of complete plans; returns (plan, rule, rejected)."""
    sc = score_plans(maze, plans, start, goal, den.cfg.every, warp, REACH)
    if (sc.value > 0).any():
        i = int(np.argmax(sc.value))
        return (
            cut_at_reach(plans[i], int(sc.reach_index[i]), goal),
            "reached",
            int(sc.rejected.sum()),
        )
    valid = np.flatnonzero(~sc.rejected)
    pool = valid if len(valid) else np.arange(len(plans))
    i = int(pool[np.argmin(sc.min_dist[pool])])
    return plans[i], ("valid" if len(valid) else "any"), int(sc.rejected.sum())


def _sample(
    den: PlanDenoiser,
    maze: MazeMap,
    start: np.ndarray,
    goal: np.ndarray,
    scales: Sequence[float],
    seed: int,
    full_sequence: bool,
    warp_factor: float = 1.0,
) -> PlanResult:
    c0, t0 = den.counters.snapshot(), time.perf_counter()
    b = len(scales)
    x = den.noise(b, np.random.default_rng(seed))
    st, gl = den.endpoints(start, goal, b)
    s = torch.tensor(list(scales), dtype=torch.float32)
    if full_sequence:
        x = den.full_sequence(x, st, gl, s)
    else:
        zero = torch.zeros(b, dtype=torch.long)
        x = den.advance(x, st, gl, zero, torch.full((b,), den.last_row), s, jump=1)
    plans = den.decode(x, np.asarray(start, float))
    warp = den.default_warp(warp_factor)
    plan, rule, rej = _pick(den, maze, plans, start, goal, warp)
    used, wall = den.counters.since(c0), time.perf_counter() - t0
    flags = score_plans(maze, plans, start, goal, den.cfg.every, warp, REACH).rejected  # figures
    info = {"candidates": list(plans), "rejected": [bool(f) for f in flags]}
    return PlanResult(plan, den.cfg.every, used.nfe, used.calls, wall, b, b, rej, rule, info)


def plan_diffuser(
    den: PlanDenoiser,
    maze: MazeMap,
    start,
    goal,
    *,
    seed: int = 0,
    scale: float = 1.0,
    warp_factor: float = 1.0,
) -> PlanResult:
    """One-shot full-sequence denoising with guidance ``scale``."""
    return _sample(den, maze, start, goal, [scale], seed, True, warp_factor)


def plan_df(
    den: PlanDenoiser,
    maze: MazeMap,
    start,
    goal,
    *,
    seed: int = 0,
    scale: float = 1.0,
    warp_factor: float = 1.0,
) -> PlanResult:
    """Single-pass Diffusion Forcing (pyramid schedule) with guidance ``scale``."""
    return _sample(den, maze, start, goal, [scale], seed, False, warp_factor)


def plan_best_of_n(
    den: PlanDenoiser,
    maze: MazeMap,
    start,
    goal,
    *,
    n: int,
    seed: int = 0,
    levels: Sequence[float] = GUIDANCE_LEVELS,
    warp_factor: float = 1.0,
) -> PlanResult:
    """N pyramid samples in one batch, scale of sample i = levels[i mod len(levels)]."""
    scales = [levels[i % len(levels)] for i in range(n)]
    return _sample(den, maze, start, goal, scales, seed, False, warp_factor)


def plan_mctd(
    den: PlanDenoiser,
    maze: MazeMap,
    start,
    goal,
    *,
    budget: int = 100,
    parallel: int = 1,
    virtual_weight: float = 1.0,
    depth: int | None = None,
    jump: int = 10,
    seed: int = 0,
    levels: Sequence[float] = GUIDANCE_LEVELS,
    warp_factor: float = 1.0,
) -> PlanResult:
    """MCTD (parallel = 1) or P-MCTD (parallel = K); on a sparse planner S-MCTD / Fast-MCTD.

    ``budget`` counts expansions (simulations); ``depth`` defaults to 5 dense, 3 sparse.
    """
    depth = depth or (5 if den.cfg.every == 1 else 3)
    t0 = time.perf_counter()
    problem = MazePlanProblem(
        den,
        maze,
        start,
        goal,
        levels=levels,
        depth=depth,
        jump=jump,
        warp=den.default_warp(warp_factor),
        seed=seed,
    )
    res = mcts(
        problem,
        budget,
        k=len(levels),
        selection="uct",
        backup="max",
        c=math.sqrt(2.0),
        parallel=parallel,
        virtual_weight=virtual_weight,
        rng=np.random.default_rng(seed),
    )
    plan, rule = problem.solution()
    st = res.stats
    return PlanResult(
        plan,
        den.cfg.every,
        st.nfe,
        st.calls,
        time.perf_counter() - t0,
        st.simulations,
        problem.log.simulated,
        problem.log.rejected,
        rule,
        {
            "iterations": st.iterations,
            "stopped_early": st.stopped_early,
            "max_depth": st.max_depth,
            "candidates": problem.log.plans,
            "rejected": problem.log.rejected_flags,
            "tree": res.tree,
            "levels": tuple(levels),
        },
    )
