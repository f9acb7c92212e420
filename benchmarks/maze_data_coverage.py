"""How often the navigate data passes the maze's task starts, and how close it keeps to walls.

A planner learns what a plan from a start looks like from the data's windows that begin near it;
a window start is any state of an episode that leaves a full plan horizon after it. For each task
start (a cell centre) this counts the window starts within 0.5 / 1 / 2 world units (a cell is 4)
for junction goals (the default data) and free-cell goals (``--data-goals cells``), and the ratio.
Then, for those two and free-cell goals with the doorway oracle (``--data-oracle doorway``), the
clearance of the data's states: quantiles of their distance to the nearest wall square (the
disc's radius is 0.4, so 0.4 is touching) and the share of states within 1.0 of a wall.

Run:  uv run --package mctd-trainer python benchmarks/maze_data_coverage.py [--maze medium]
"""

from __future__ import annotations

import argparse

import numpy as np
from mctd_diffusion.maze.data import GOALS, load_dataset
from mctd_diffusion.maze.env import wall_distance
from mctd_diffusion.maze.maps import HORIZON, TASKS, MazeMap, cell_to_xy

RADII = (0.5, 1.0, 2.0)
QUANTILES = (0.01, 0.05, 0.25, 0.5)


def window_starts_near(obs: np.ndarray, horizon: int, point: np.ndarray) -> list[int]:
    """Window starts of (E, T + 1, 2) episodes within each of ``RADII`` of ``point``."""
    starts = obs[:, : obs.shape[1] - horizon].reshape(-1, 2)
    dist = np.linalg.norm(starts - point, axis=-1)
    return [int((dist < r).sum()) for r in RADII]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maze", default="medium")
    args = ap.parse_args()
    data = {g: load_dataset(args.maze, goals=g).obs for g in GOALS}
    radii = " / ".join(f"{r:g}" for r in RADII)
    print(f"{args.maze}: window starts within {radii} of each task start")
    for k, (start, _) in enumerate(TASKS[args.maze]):
        point = cell_to_xy(np.array(start, float))
        counts = {g: window_starts_near(obs, HORIZON[args.maze], point) for g, obs in data.items()}
        row = "   ".join(f"{g} {' / '.join(map(str, c))}" for g, c in counts.items())
        ratio = counts["cells"][1] / max(counts["junctions"][1], 1)
        print(f"  task {k + 1} {start}: {row}   (cells / junctions within 1: x{ratio:.1f})")
    maze = MazeMap.load(args.maze)
    qs = " / ".join(f"{q:.0%}" for q in QUANTILES)
    print(f"{args.maze}: distance of the data's states to the nearest wall ({qs} quantiles)")
    for goals, oracle in (("junctions", "centre"), ("cells", "centre"), ("cells", "doorway")):
        gap = wall_distance(maze, load_dataset(args.maze, goals=goals, oracle=oracle).obs)
        quant = " / ".join(f"{v:.2f}" for v in np.quantile(gap, QUANTILES))
        near = (gap < 1.0).mean()
        print(f"  goals {goals:9s} oracle {oracle:7s}: {quant}   within 1.0: {near:.1%}")


if __name__ == "__main__":
    main()
