"""How often the navigate data passes the maze's task starts, per choice of the oracle's goals.

A planner learns what a plan from a start looks like from the data's windows that begin near it;
a window start is any state of an episode that leaves a full plan horizon after it. For each task
start (a cell centre) this counts the window starts within 0.5 / 1 / 2 world units (a cell is 4)
for junction goals (the default data) and free-cell goals (``--data-goals cells``), and the ratio.

Run:  uv run --package mctd-trainer python benchmarks/maze_data_coverage.py [--maze medium]
"""

from __future__ import annotations

import argparse

import numpy as np
from mctd_diffusion.maze.data import GOALS, load_dataset
from mctd_diffusion.maze.maps import HORIZON, TASKS, cell_to_xy

RADII = (0.5, 1.0, 2.0)


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


if __name__ == "__main__":
    main()
