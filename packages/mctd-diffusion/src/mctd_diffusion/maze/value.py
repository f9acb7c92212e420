"""MCTD's plan value: reject plans that teleport or pass through walls, reward reaching early.

For a plan p_1..p_S (state k at env step k·every) from start p_0: rejected (value 0) if any
||p_k - p_{k-1}|| > warp (1.0 dense, 2.0 sparse) or any p_k lies inside a wall cell; otherwise, if
it first comes within ``reach`` (2.0) of the goal at env step t, value (H - t)/H (H = the plan's env
steps); else 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mctd_diffusion.maze.maps import MazeMap, xy_to_cell

REACH = 2.0


@dataclass(frozen=True)
class PlanScore:
    """Per plan: value, rejected flag, index of the first state within reach (-1: none), and
    the closest distance to the goal."""

    value: np.ndarray
    rejected: np.ndarray
    reach_index: np.ndarray
    min_dist: np.ndarray


def in_wall(maze: MazeMap, pts: np.ndarray) -> np.ndarray:
    """Whether each point of (..., 2) lies in a wall cell or off the map."""
    c = xy_to_cell(pts)
    h, w = maze.shape
    i, j = np.clip(c[..., 0], 0, h - 1), np.clip(c[..., 1], 0, w - 1)
    return (maze.grid[i, j] == 1) | (i != c[..., 0]) | (j != c[..., 1])


def plan_moves(start: np.ndarray, plans: np.ndarray) -> np.ndarray:
    """(B, S) lengths of the moves of (B, S, 2) plans from ``start``: move i ends at state i."""
    plans = np.asarray(plans, dtype=np.float64)
    first = np.broadcast_to(np.asarray(start, float), (len(plans), 1, 2))
    return np.linalg.norm(np.diff(np.concatenate([first, plans], axis=1), axis=1), axis=-1)


def score_plans(
    maze: MazeMap,
    plans: np.ndarray,
    start: np.ndarray,
    goal: np.ndarray,
    every: int,
    warp: float,
    reach: float = REACH,
) -> PlanScore:
    """Score world-frame plans (B, S, 2); see the module docstring."""
    plans = np.asarray(plans, dtype=np.float64)
    s = plans.shape[1]
    jumps = plan_moves(start, plans)
    rejected = np.any(jumps > warp, axis=1) | in_wall(maze, plans).any(axis=1)
    dist = np.linalg.norm(plans - np.asarray(goal, float), axis=-1)
    within = dist <= reach
    first = np.where(within.any(axis=1), within.argmax(axis=1), -1)
    horizon = s * every
    t = (first + 1) * every
    value = np.where((first >= 0) & ~rejected, (horizon - t) / horizon, 0.0)
    return PlanScore(value, rejected, first, dist.min(axis=1))


def cut_at_reach(plan: np.ndarray, index: int, goal: np.ndarray) -> np.ndarray:
    """The plan up to its first state within reach, then the goal itself (held to the end)."""
    return np.concatenate([plan[: index + 1], np.asarray(goal, float)[None]], axis=0)
