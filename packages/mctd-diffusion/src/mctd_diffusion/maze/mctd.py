"""MCTD over a Diffusion Forcing planner as a ``mctd_tree.EnumerableProblem``.

A node is the whole plan after the pyramid has run to row m (the root: pure noise at row 0).
Its children are the guidance scales (meta-actions, uniform priors); expanding child a runs the
parent's plan ``rows_per_node`` rows further with scale s_a, all children of a batch in one
batched network call per row. Simulation: jumpy DDIM (every ``jump``-th row) to the end with the
node's scale, then the value of :mod:`~mctd_diffusion.maze.value`. A node whose clean prefix (tokens
already at level 0) reaches the goal without a warp stops the search (MCTD's early stop).

Output preference (:meth:`MazePlanProblem.solution`): the stopping prefix cut at the reach; else
the best-valued simulated plan that reached the goal, cut at the reach; else the non-rejected plan
closest to the goal; else the plan closest to the goal. Used with
``mctd_tree.mcts(problem, budget, k=len(levels), selection="uct", backup="max", parallel=K)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from mctd_tree import Proposals, Rollout

from mctd_diffusion.maze.maps import MazeMap
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.value import REACH, cut_at_reach, score_plans

GUIDANCE_LEVELS = (0.0, 0.1, 0.5, 1.0, 2.0)


@dataclass(frozen=True, eq=False)
class PlanNode:
    """Plan tokens (N, D), pyramid row, the scale it was made with, and a reached prefix."""

    x: torch.Tensor
    row: int
    scale: float
    prefix: np.ndarray | None = None  # the clean prefix cut at the reach, when it reaches


@dataclass
class SearchLog:
    """What the searches saw: every simulated plan's score, and the candidate outputs."""

    simulated: int = 0
    rejected: int = 0
    stop_plan: np.ndarray | None = None
    best_reached: tuple[float, np.ndarray] | None = None
    best_valid: tuple[float, np.ndarray] | None = None  # (min distance, plan)
    best_any: tuple[float, np.ndarray] | None = None
    values: list[float] = field(default_factory=list)
    plans: list[np.ndarray] = field(default_factory=list)  # every simulated plan, in order
    rejected_flags: list[bool] = field(default_factory=list)  # ... and whether it was rejected


class MazePlanProblem:
    """See the module docstring. ``start``/``goal`` are world-frame (2,) points."""

    def __init__(
        self,
        denoiser: PlanDenoiser,
        maze: MazeMap,
        start: np.ndarray,
        goal: np.ndarray,
        *,
        levels: Sequence[float] = GUIDANCE_LEVELS,
        depth: int = 5,
        jump: int = 10,
        warp: float | None = None,
        reach: float = REACH,
        seed: int = 0,
    ) -> None:
        self.den, self.maze = denoiser, maze
        self.start, self.goal = np.asarray(start, float), np.asarray(goal, float)
        self.levels = tuple(float(s) for s in levels)
        self.every = denoiser.cfg.every
        self.warp = denoiser.default_warp() if warp is None else warp
        self.reach, self.jump = reach, jump
        self.rows_per_node = math.ceil(denoiser.last_row / depth)
        x0 = denoiser.noise(1, np.random.default_rng(seed))[0]
        self._root = PlanNode(x0, 0, 0.0)
        self.counters = denoiser.counters
        self.log = SearchLog()

    # --- protocol ------------------------------------------------------------------------
    def root(self) -> PlanNode:
        return self._root

    def is_terminal(self, state: PlanNode) -> bool:
        return state.row >= self.den.last_row

    def propose(self, states: Sequence[PlanNode], k: int) -> list[Proposals]:
        n = min(k, len(self.levels))
        return [Proposals(np.arange(n), np.full(n, -math.log(n))) for _ in states]

    def step(self, states: Sequence[PlanNode], actions: Sequence[int]) -> list[PlanNode]:
        x, rows = self._stack(states)
        scales = torch.tensor([self.levels[a] for a in actions])
        target = rows + self.rows_per_node
        out = self.den.advance(x, *self._endpoints(len(states)), rows, target, scales, jump=1)
        target = target.clamp(max=self.den.last_row)
        return [
            PlanNode(
                out[i],
                int(target[i]),
                float(scales[i]),
                self._reached_prefix(out[i], int(target[i])),
            )
            for i in range(len(states))
        ]

    def rollout(self, states: Sequence[PlanNode], rng: np.random.Generator) -> list[Rollout]:
        x, rows = self._stack(states)
        scales = torch.tensor([s.scale for s in states])
        end = torch.full_like(rows, self.den.last_row)
        out = self.den.advance(
            x,
            *self._endpoints(len(states)),
            rows,
            end,
            scales,
            jump=self.jump,
        )
        plans = self.den.decode(out, self.start)
        score = score_plans(
            self.maze, plans, self.start, self.goal, self.every, self.warp, self.reach
        )
        results = []
        for i, st in enumerate(states):
            self._record(
                plans[i],
                score.value[i],
                bool(score.rejected[i]),
                int(score.reach_index[i]),
                score.min_dist[i],
            )
            stop = st.prefix is not None
            if stop and self.log.stop_plan is None:
                self.log.stop_plan = st.prefix
            results.append(
                Rollout(
                    [],
                    float(score.value[i]),
                    st,
                    {"stop": stop, "rejected": bool(score.rejected[i])},
                )
            )
        return results

    # --- outputs --------------------------------------------------------------------------
    def solution(self) -> tuple[np.ndarray, str]:
        """The plan to execute and which rule chose it ("stop", "reached", "valid", "any")."""
        log = self.log
        if log.stop_plan is not None:
            return log.stop_plan, "stop"
        if log.best_reached is not None:
            return log.best_reached[1], "reached"
        if log.best_valid is not None:
            return log.best_valid[1], "valid"
        if log.best_any is not None:
            return log.best_any[1], "any"
        raise RuntimeError("no plan was simulated")

    # --- helpers --------------------------------------------------------------------------
    def _stack(self, states: Sequence[PlanNode]) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.stack([s.x for s in states]), torch.tensor([s.row for s in states])

    def _endpoints(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.den.endpoints(self.start, self.goal, b)

    def _reached_prefix(self, x: torch.Tensor, row: int) -> np.ndarray | None:
        """The clean prefix of a node's plan cut at the reach, if it reaches without a warp."""
        n_clean = int((self.den.pyramid_levels(torch.tensor([row]))[0] == 0).sum())
        if n_clean == 0:
            return None
        plan = self.den.decode(x[None, :n_clean], self.start)
        score = score_plans(
            self.maze, plan, self.start, self.goal, self.every, self.warp, self.reach
        )
        k = int(score.reach_index[0])
        if score.rejected[0] or k < 0:
            return None
        return cut_at_reach(plan[0], k, self.goal)

    def _record(self, plan: np.ndarray, value: float, rejected: bool, k: int, dist: float) -> None:
        log = self.log
        log.simulated += 1
        log.rejected += int(rejected)
        log.values.append(float(value))
        log.plans.append(plan)
        log.rejected_flags.append(bool(rejected))
        if value > 0 and (log.best_reached is None or value > log.best_reached[0]):
            log.best_reached = (float(value), cut_at_reach(plan, k, self.goal))
        if not rejected and (log.best_valid is None or dist < log.best_valid[0]):
            log.best_valid = (float(dist), plan)
        if log.best_any is None or dist < log.best_any[0]:
            log.best_any = (float(dist), plan)
