"""Point-maze dynamics in numpy: pos += 0.2·clip(a, -1, 1) with wall collisions, batched.

The point is a disc of radius 0.4. A move is applied one axis at a time (x, then y); an axis move
that would make the disc overlap a wall square is cancelled, so the point slides along walls.
Success: within 1.0 of the goal.
"""

from __future__ import annotations

import numpy as np

from mctd_diffusion.maze.maps import CELL, MazeMap, xy_to_cell

RADIUS = 0.4
STEP = 0.2
SUCCESS_RADIUS = 1.0
_OFFSETS = np.array([(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)], dtype=np.int64)


def wall_distance(maze: MazeMap, pos: np.ndarray) -> np.ndarray:
    """Distance from each point of (..., 2) ``pos`` to the nearest wall square (off-map is wall),
    looking at the 3 x 3 cells around it (so at most about one cell: 4.0 stands for "farther")."""
    shape = np.shape(pos)[:-1]
    p = np.asarray(pos, dtype=np.float64).reshape(-1, 2)
    cells = xy_to_cell(p)[:, None, :] + _OFFSETS[None]  # (N, 9, 2)
    h, w = maze.shape
    i = np.clip(cells[..., 0], 0, h - 1)
    j = np.clip(cells[..., 1], 0, w - 1)
    outside = (cells[..., 0] != i) | (cells[..., 1] != j)
    wall = (maze.grid[i, j] == 1) | outside
    lo_x, lo_y = CELL * j - 6.0, CELL * i - 6.0  # wall square [lo, lo + 4]
    dx = np.maximum(np.maximum(lo_x - p[:, None, 0], p[:, None, 0] - (lo_x + CELL)), 0.0)
    dy = np.maximum(np.maximum(lo_y - p[:, None, 1], p[:, None, 1] - (lo_y + CELL)), 0.0)
    return np.where(wall, np.hypot(dx, dy), CELL).min(axis=1).reshape(shape)


def collides(maze: MazeMap, pos: np.ndarray) -> np.ndarray:
    """Whether a disc of radius 0.4 at each point of (N, 2) ``pos`` overlaps a wall square."""
    return wall_distance(maze, np.atleast_2d(pos)) < RADIUS


def step(maze: MazeMap, pos: np.ndarray, action: np.ndarray) -> np.ndarray:
    """One step for a batch: (N, 2) positions and actions -> new positions (walls block)."""
    p = np.array(pos, dtype=np.float64, ndmin=2)
    delta = STEP * np.clip(np.asarray(action, dtype=np.float64).reshape(p.shape), -1.0, 1.0)
    for axis in (0, 1):
        q = p.copy()
        q[:, axis] += delta[:, axis]
        ok = ~collides(maze, q)
        p[ok, axis] = q[ok, axis]
    return p


def pd_action(
    pos: np.ndarray, vel: np.ndarray, p_plan: np.ndarray, v_plan: np.ndarray
) -> np.ndarray:
    """The paper's open-loop tracker: a = clip(12.5·(p_plan - pos) + 1.2·(v_plan - vel), -1, 1)."""
    return np.clip(12.5 * (p_plan - pos) + 1.2 * (v_plan - vel), -1.0, 1.0)


def execute_plan(
    maze: MazeMap,
    plan: np.ndarray,
    start: np.ndarray,
    goal: np.ndarray,
    horizon: int,
    hold: int = 1,
    stop_at_goal: bool = True,
) -> tuple[np.ndarray, int]:
    """Follow ``plan`` (S, 2) open loop from ``start`` for ``horizon`` steps with the PD tracker.

    Plan state k is the target for steps [k·hold, (k+1)·hold) (``hold`` = H for sparse plans); its
    velocity is (plan[k] - plan[k-1]) / hold. After the plan ends its last state is held. Returns
    the executed positions (up to horizon + 1, 2; cut at the first reach when ``stop_at_goal``) and
    the first step within 1.0 of ``goal`` (-1: never).
    """
    plan = np.asarray(plan, dtype=np.float64)
    pos = np.asarray(start, dtype=np.float64).reshape(1, 2).copy()
    prev_target = pos[0].copy()
    vel = np.zeros(2)
    traj = [pos[0].copy()]
    first = 0 if np.linalg.norm(pos[0] - goal) <= SUCCESS_RADIUS else -1
    for t in range(horizon):
        if first >= 0 and stop_at_goal:
            break
        k = min(t // hold, len(plan) - 1)
        target = plan[k]
        before = plan[k - 1] if k > 0 else prev_target
        v_plan = (target - before) / hold if t // hold < len(plan) else np.zeros(2)
        a = pd_action(pos[0], vel, target, v_plan)
        new = step(maze, pos, a)
        vel = new[0] - pos[0]
        pos = new
        traj.append(pos[0].copy())
        if first < 0 and np.linalg.norm(pos[0] - goal) <= SUCCESS_RADIUS:
            first = t + 1
    return np.array(traj), first
