"""The "navigate" dataset: a noisy BFS oracle wandering between goal cells, cached on disk.

Each episode starts at a random free cell (uniform jitter of ±1 inside it) and heads for a random
goal cell: a junction / dead-end cell (``goals="junctions"``, the default), or any free cell
(``goals="cells"``). With junction goals the oracle cuts across the corners of bends, so the
centres of corner cells (where most evaluation tasks start) are almost never visited; free-cell
goals bring the data there too. The oracle's action is the unit vector from the point to the
centre of the next cell on the shortest path (the goal's centre inside the goal cell), plus
N(0, 0.5²) noise; on arrival (within 1.0 of the goal centre) a new goal is drawn. Generated once per
(maze, seed, size) and cached as npz (temp file + rename) under $MCTD_CACHE or ~/.cache/mctd.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mctd_diffusion.maze.bfs import next_cell_table
from mctd_diffusion.maze.env import SUCCESS_RADIUS, step
from mctd_diffusion.maze.maps import MazeMap, cell_to_xy, xy_to_cell

NOISE_STD = 0.5
DATA_VERSION = 1


ORACLES = ("centre", "doorway")
DOORWAY_AHEAD = 0.625  # "doorway" target: this fraction of the way from a cell's centre to the next


def oracle_action(
    maze: MazeMap, pos: np.ndarray, goal_cells: np.ndarray, oracle: str = "centre"
) -> np.ndarray:
    """Noise-free BFS oracle for a batch: unit vectors towards the ``oracle``'s target (module)."""
    if oracle not in ORACLES:
        raise ValueError(f"unknown oracle {oracle!r}; expected one of {', '.join(ORACLES)}")
    table = next_cell_table(maze.name)
    cells = xy_to_cell(pos)
    g = np.asarray(goal_cells, dtype=np.int64).reshape(-1, 2)
    target = cell_to_xy(table[g[:, 0], g[:, 1], cells[:, 0], cells[:, 1]])
    if oracle == "doorway":
        here = cell_to_xy(cells)
        target = here + DOORWAY_AHEAD * (target - here)
    diff = target - pos
    norm = np.linalg.norm(diff, axis=1, keepdims=True)
    return diff / np.maximum(norm, 1e-6) * np.minimum(norm / 0.2, 1.0)


@dataclass(frozen=True)
class MazeDataset:
    """``obs`` (E, T + 1, 2) positions and ``actions`` (E, T, 2) of E episodes of T steps."""

    maze: str
    obs: np.ndarray
    actions: np.ndarray


GOALS = ("junctions", "cells")


def generate(
    maze_name: str,
    episodes: int,
    steps: int,
    seed: int,
    noise: float = NOISE_STD,
    goals: str = "junctions",
    oracle: str = "centre",
) -> MazeDataset:
    """Roll out ``episodes`` noisy-oracle episodes of ``steps`` steps in parallel (see module)."""
    if goals not in GOALS:
        raise ValueError(f"unknown data goals {goals!r}; expected one of {', '.join(GOALS)}")
    maze = MazeMap.load(maze_name)
    rng = np.random.default_rng(seed)
    free = np.array(maze.free_cells)
    goal_cells = np.array(maze.junctions if goals == "junctions" else maze.free_cells)
    pos = cell_to_xy(free[rng.integers(len(free), size=episodes)])
    pos += rng.uniform(-1.0, 1.0, size=pos.shape)
    target = goal_cells[rng.integers(len(goal_cells), size=episodes)]
    obs = np.empty((episodes, steps + 1, 2))
    acts = np.empty((episodes, steps, 2))
    obs[:, 0] = pos
    for t in range(steps):
        arrived = np.linalg.norm(pos - cell_to_xy(target), axis=1) <= SUCCESS_RADIUS
        if arrived.any():
            target[arrived] = goal_cells[rng.integers(len(goal_cells), size=int(arrived.sum()))]
        a = oracle_action(maze, pos, target, oracle) + noise * rng.standard_normal(pos.shape)
        a = np.clip(a, -1.0, 1.0)
        pos = step(maze, pos, a)
        acts[:, t], obs[:, t + 1] = a, pos
    return MazeDataset(maze_name, obs.astype(np.float32), acts.astype(np.float32))


def cache_dir() -> Path:
    """$MCTD_CACHE, else ~/.cache/mctd."""
    return Path(os.environ.get("MCTD_CACHE", Path.home() / ".cache" / "mctd"))


def load_dataset(
    maze_name: str,
    episodes: int = 400,
    steps: int = 1000,
    seed: int = 0,
    goals: str = "junctions",
    oracle: str = "centre",
) -> MazeDataset:
    """The cached dataset for these arguments, generating and writing it atomically if absent."""
    tag = "" if goals == "junctions" else f"-g{goals}"
    tag += "" if oracle == "centre" else f"-o{oracle}"
    name = f"{maze_name}-e{episodes}-t{steps}-s{seed}{tag}-v{DATA_VERSION}.npz"
    path = cache_dir() / "maze" / name
    if path.exists():
        with np.load(path) as z:
            return MazeDataset(maze_name, z["obs"], z["actions"])
    data = generate(maze_name, episodes, steps, seed, goals=goals, oracle=oracle)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, obs=data.obs, actions=data.actions)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return data
