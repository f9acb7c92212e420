"""Training speed of maze planners: steps/s and windows/s per batch size and thread count.

Times ``--steps`` optimizer steps (after 3 warm-up steps) of the medium dense planner's loss
(anchored, start inpainting, v loss, pyramid rows 0.5) for each net, batch size and torch thread
count, and prints steps/s and windows/s with the ratio of windows/s to the first batch size of the
same net and threads. On a shared CPU the figures move with the load: compare rows of one run.
Rows go to ``benchmarks/results/maze_train_speed.json``.

Run:  OMP_NUM_THREADS=2 uv run --package mctd-trainer python benchmarks/maze_train_speed.py \
        [--nets transformer unet] [--batches 32 64 128] [--threads 1 2] [--steps 15]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from maze_overfit import bench_arch
from mctd_diffusion.maze.planner import PlannerTraining, build_model
from mctd_diffusion.maze.train import PlannerLoss
from mctd_tree.files import write_json

RESULTS = Path(__file__).resolve().parent / "results"


def steps_per_second(net: str, batch: int, steps: int) -> float:
    """Optimizer steps per wall second of ``net`` at ``batch`` windows per step."""
    arch = bench_arch(net)
    loss = PlannerLoss(arch, PlannerTraining(batch_size=batch, loss_weight="v", pyramid_frac=0.5))
    model = build_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    t0 = 0.0
    for step in range(steps + 3):
        if step == 3:
            t0 = time.perf_counter()
        out = loss(model, step)
        opt.zero_grad()
        out.backward()
        opt.step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["transformer"])
    ap.add_argument("--batches", type=int, nargs="+", default=[32, 64, 128])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--steps", type=int, default=15)
    args = ap.parse_args()
    rows = []
    for net in args.nets:
        for threads in args.threads:
            torch.set_num_threads(threads)
            base = None
            for batch in args.batches:
                sps = steps_per_second(net, batch, args.steps)
                base = base or sps * batch
                print(
                    f"{net} threads {threads} batch {batch:>4}: {sps:6.2f} steps/s, "
                    f"{sps * batch:6.0f} windows/s (x{sps * batch / base:.2f})",
                    flush=True,
                )
                rows.append({"net": net, "threads": threads, "batch": batch, "steps_s": sps})
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "maze_train_speed.json", rows)


if __name__ == "__main__":
    main()
