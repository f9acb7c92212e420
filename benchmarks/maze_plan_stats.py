"""Jump statistics of unguided Diffusion Forcing plans: why the value function rejects them.

For a trained planner (``mctd-train maze`` or ``benchmarks/maze_mctd.py`` folder), samples
``--plans`` unguided pyramid plans per task of its maze and prints, averaged over tasks: the jump
from the start to the first state, the mean jump across token boundaries and inside tokens (data:
at most 0.28 per env step), jumps over the value's warp threshold per plan (1.0 dense, 2.0
sparse), the share of plans with a state in a wall, and the share rejected.

Run:  uv run --package mctd-trainer python benchmarks/maze_plan_stats.py \
        benchmarks/results/maze/medium-dense-v
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from mctd_diffusion.maze.maps import TASKS, MazeMap, cell_to_xy
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.value import in_wall, score_plans
from mctd_trainer.maze import load_planner


def task_stats(den: PlanDenoiser, maze: MazeMap, start, goal, n: int, seed: int) -> np.ndarray:
    cfg = den.cfg
    x = den.noise(n, np.random.default_rng(seed))
    st, gl = (
        torch.from_numpy(den.codec.normalise(np.tile(p, (n, 1)).astype(np.float32)))
        for p in (start, goal)
    )
    rows = torch.zeros(n, dtype=torch.long)
    x = den.advance(x, st, gl, rows, torch.full((n,), den.last_row), torch.zeros(n))
    plans = den.decode(x, start)
    jumps = np.linalg.norm(
        np.diff(np.concatenate([np.tile(start, (n, 1, 1)), plans], 1), axis=1), axis=-1
    )
    k = cfg.token_size
    boundary = jumps[:, k::k]
    inner = np.delete(jumps, np.r_[0, k::k], axis=1)
    warp = 1.0 if cfg.every == 1 else 2.0
    score = score_plans(maze, plans, start, goal, cfg.every, warp)
    return np.array(
        [
            jumps[:, 0].mean(),
            boundary.mean(),
            inner.mean(),
            (jumps > warp).sum(1).mean(),
            in_wall(maze, plans).any(1).mean(),
            score.rejected.mean(),
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "planner", help="planner folder of mctd-train maze (or legacy planner.safetensors)"
    )
    ap.add_argument("--plans", type=int, default=8, help="plans per task")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, cfg, step = load_planner(args.planner)
    den = PlanDenoiser(model, cfg)
    maze = MazeMap.load(cfg.maze)
    stats = np.mean(
        [
            task_stats(
                den,
                maze,
                cell_to_xy(np.array(s, float)),
                cell_to_xy(np.array(g, float)),
                args.plans,
                seed,
            )
            for seed, (s, g) in enumerate(TASKS[cfg.maze])
        ],
        axis=0,
    )
    names = ("start jump", "boundary jump", "in-token jump", "over-warp jumps/plan",
             "wall plans", "rejected")  # fmt: skip
    print(f"{args.planner} (step {step}, every={cfg.every}):")
    for name, v in zip(names, stats, strict=True):
        print(f"  {name:>22}: {v:.3f}")


if __name__ == "__main__":
    main()
