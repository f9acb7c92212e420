"""Fast-MCTD in point mazes: Diffuser, DF, best-of-N, MCTD, P-MCTD, S-MCTD and Fast-MCTD.

Trains (or resumes) the dense and the sparse (H = 5) Diffusion Forcing planners of a maze, then
plans every method on the maze's 5 tasks x seeds, executes each plan open loop with the PD tracker
and prints a paper-shaped table (success %, planning seconds) with NFE, sequential batched calls,
expansions and rejected fractions, plus the issue's acceptance ratios measured in this same run.
Rows and summary go to benchmarks/results/maze_mctd_<maze>.json.

Run:  UV_PROJECT_ENVIRONMENT=/work/venvs/maze uv run --package mctd-trainer \
        python benchmarks/maze_mctd.py --maze medium [--seeds 0 1 2] [--budget 100] [--parallel 25]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion.maze.env import STEP
from mctd_diffusion.maze.evaluate import (
    default_methods,
    evaluate_planners,
    format_table,
    summarize,
)
from mctd_diffusion.maze.planner import PlannerArch, PlannerTraining
from mctd_diffusion.maze.pyramid import GUIDANCE_GAIN, PlanDenoiser
from mctd_trainer.maze import load_planner, train_maze

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"


def planner(
    maze: str,
    every: int,
    steps: int,
    levels: int,
    gain: float,
    out: Path,
    loss_weight: str = "v",
    init: Path | None = None,
    constrain: bool = False,
    relative: bool = False,
    ema: float = 0.0,
    anchor: bool = False,
) -> tuple[PlanDenoiser, dict]:
    """Load the planner in ``out`` (training or resuming it up to ``steps`` first; a fresh run
    starts from the weights in ``init`` when given, at a lower learning rate)."""
    arch = PlannerArch(
        maze=maze,
        every=every,
        pos_scale=4.0,
        neighbour=True,
        relative=relative,
        anchor=anchor,
    )
    training = PlannerTraining(
        steps=steps,
        batch_size=64,
        lr=2e-3 if init is None else 1e-3,
        warmup=100 if init is None else 50,
        checkpoint_every=250,
        pyramid_frac=0.5,
        loss_weight=loss_weight,
        ema=ema,
    )
    info: dict[str, Any] = {"dir": str(out)}
    try:
        done = load_planner(out)[2] >= steps
    except ValueError:  # no planner there yet
        done = False
    if not done:
        t0 = time.perf_counter()
        train_maze(arch, training, out, resume=True, init=init)
        info["init"] = None if init is None else str(init)
        info["train_seconds_this_run"] = time.perf_counter() - t0
    model, cfg, step = load_planner(out)
    info.update(step=step, config={**cfg.to_dict(), **training.to_dict()})
    # --constrain: clip x0 to free space, and moves to the robot's top speed (+5 %) per state
    max_step = 1.05 * STEP * math.sqrt(2) * every if constrain else 0.0
    info.update(project_walls=constrain, max_step=max_step)
    den = PlanDenoiser(
        model, cfg, levels=levels, guidance_gain=gain, project_walls=constrain, max_step=max_step
    )
    return den, info


def acceptance(summary: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's claims, as ratios measured in this run. A speed-up "at similar success" needs
    MCTD to succeed at all: with MCTD at 0 % the P-MCTD / Fast-MCTD claims are false (vacuous)."""
    by = {s["method"]: s for s in summary}
    out: dict[str, Any] = {}
    if "mctd" in by and "df" in by:
        m, d = by["mctd"], by["df"]
        out["mctd_minus_df_points"] = m["success"] - d["success"]
        out["mctd_claim"] = m["success"] >= d["success"] + 20 or m["success"] >= 80
    if "mctd" in by and "p_mctd" in by:
        m, p = by["mctd"], by["p_mctd"]
        out["pmctd_calls_ratio"] = m["calls"] / max(p["calls"], 1e-9)
        out["pmctd_wall_ratio"] = m["wall_time"] / max(p["wall_time"], 1e-9)
        out["pmctd_success_gap"] = m["success"] - p["success"]
        out["pmctd_claim"] = (
            m["success"] > 0
            and out["pmctd_calls_ratio"] >= 5
            and abs(out["pmctd_success_gap"]) <= 10
        )
    if "mctd" in by and "fast_mctd" in by:
        m, f = by["mctd"], by["fast_mctd"]
        out["fast_wall_ratio"] = m["wall_time"] / max(f["wall_time"], 1e-9)
        out["fast_success_gap"] = m["success"] - f["success"]
        out["fast_claim"] = (
            m["success"] > 0 and out["fast_wall_ratio"] >= 5 and abs(out["fast_success_gap"]) <= 15
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maze", default="medium", choices=("medium", "large", "giant"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--budget", type=int, default=100, help="MCTD expansions")
    ap.add_argument("--parallel", type=int, default=25, help="K of P-MCTD / Fast-MCTD")
    ap.add_argument("--levels", type=int, default=50, help="DDIM levels of the pyramid")
    ap.add_argument("--scale", type=float, default=1.0, help="guidance of Diffuser / DF")
    ap.add_argument("--warp-factor", type=float, default=1.0, help="x the paper's thresholds")
    ap.add_argument("--gain", type=float, default=GUIDANCE_GAIN, help="guidance unit")
    ap.add_argument("--dense-steps", type=int, default=2000)
    ap.add_argument("--sparse-steps", type=int, default=4000)
    ap.add_argument(
        "--loss-weight", default="v", choices=("x0", "v"), help="PlannerTraining.loss_weight"
    )
    ap.add_argument(
        "--init",
        type=Path,
        default=None,
        help="folder with <maze>-dense / <maze>-sparse checkpoints to fine-tune from",
    )
    ap.add_argument(
        "--constrain",
        action="store_true",
        help="sampler constraints: x0 clipped to free space, plan moves clipped to top speed",
    )
    ap.add_argument(
        "--relative", action="store_true", help="planners over offsets from the start (*-rel)"
    )
    ap.add_argument("--ema", type=float, default=0.0, help="EMA decay of trained weights")
    ap.add_argument(
        "--anchor", action="store_true", help="planners anchored on the left neighbour (*-anchor)"
    )
    ap.add_argument("--methods", nargs="*", default=None, help="subset of method names")
    ap.add_argument("--tasks", type=int, nargs="*", default=None, help="1-based task ids")
    ap.add_argument("--models", type=Path, default=RESULTS / "maze")
    args = ap.parse_args()
    torch.set_num_threads(1)

    tag = "" if args.loss_weight == "x0" else f"-{args.loss_weight}"
    tag += "-rel" if args.relative else ""
    tag += f"-ema{args.ema:g}" if args.ema else ""
    tag += "-anchor" if args.anchor else ""
    loaded = [
        planner(
            args.maze,
            every,
            steps,
            args.levels,
            args.gain,
            args.models / f"{args.maze}-{kind}{tag}",
            args.loss_weight,
            None if args.init is None else args.init / f"{args.maze}-{kind}",
            args.constrain,
            args.relative,
            args.ema,
            args.anchor,
        )
        for kind, every, steps in (("dense", 1, args.dense_steps), ("sparse", 5, args.sparse_steps))
    ]
    (dense, dense_info), (sparse, sparse_info) = loaded
    methods = default_methods(args.budget, args.parallel, args.scale, args.warp_factor)
    if args.methods:
        methods = {k: v for k, v in methods.items() if k in args.methods}
    tasks = None if args.tasks is None else [t - 1 for t in args.tasks]
    t0 = time.perf_counter()

    def show(r: dict[str, Any]) -> None:
        print(
            f"{r['method']:>24} task {r['task']} seed {r['seed']}: success={r['success']} "
            f"first={r['first_reach']} t={r['wall_time']:.2f}s nfe={r['nfe']} "
            f"calls={r['calls']} exp={r['expansions']} rej={r['rejected_frac']:.2f} "
            f"({r['chosen_by']})",
            flush=True,
        )

    rows = evaluate_planners(args.maze, dense, sparse, methods, args.seeds, tasks, progress=show)
    summary = summarize(rows)
    acc = acceptance(summary)
    print()
    print(format_table(summary))
    print()
    for k, v in acc.items():
        print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.warp_factor == 1.0 else f"_warp{args.warp_factor:g}"
    suffix += "_constrained" if args.constrain else ""
    suffix += "_rel" if args.relative else ""
    suffix += f"_ema{args.ema:g}" if args.ema else ""
    suffix += "_anchor" if args.anchor else ""
    out = RESULTS / f"maze_mctd_{args.maze}{suffix}.json"
    out.write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "models": {"dense": dense_info, "sparse": sparse_info},
                "eval_seconds": time.perf_counter() - t0,
                "summary": summary,
                "acceptance": acc,
                "rows": rows,
            },
            indent=1,
        )
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
