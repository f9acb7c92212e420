"""Plan statistics of Diffusion Forcing planners: why the value function rejects their plans.

For trained planners (``mctd-train maze`` folders; the first is the baseline the ratios are
taken against), samples ``--plans`` pyramid plans per task of the maze and prints, averaged over
the 5 tasks: the jump from the start to the first state (0 with start inpainting), the mean jump
across token boundaries and inside tokens (data: at most 0.28 per env step), jumps over the
value's warp threshold per plan (1.0 dense, 2.0 sparse), the share of plans with a state in a
wall, the share passing the value check (no warp, no wall state), and the share that pass and
reach the goal (value > 0: the signal MCTD's search needs), and the share that come within reach
of the goal whether valid or not (what guidance moves). ``--gains`` repeats the sampling
guided at ``--scale`` with each guidance gain (the unit of MCTD's guidance levels), which is
how the gain is calibrated. ``--walls`` also prints where the unguided plans enter walls: the
share of wall plans per task, how far wall states lie along the plan (states in 50-state bins),
the wall cells hit most, and how deep they are (distance to the nearest free cell, world units;
the robot's disc has radius 0.4, so data states keep their centre at least that far from a wall
cell), and where they jump over the warp threshold (per task, the share in the first 50
states) with the mean step inside the first token. Each planner's header also gives its
training loss (mean of the logged batches over the 2000 steps up to its checkpoint) and the
minutes it trained, read from its TensorBoard events (summed per event file, so pauses between
resumes do not count).
Rows go to ``benchmarks/results/maze_plan_stats.json``.

Run:  uv run --package mctd-trainer python benchmarks/maze_plan_stats.py \
        runs/maze/medium-dense-v-anchor runs/maze/medium-dense-v-anchor-inpaint \
        [--plans 8] [--gains 0 1 2 5 10 --scale 1] [--raw] [--walls] [--levels 50]
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import numpy as np
import torch
from mctd_diffusion.maze.maps import CELL, TASKS, MazeMap, cell_to_xy, xy_to_cell
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.value import in_wall, plan_moves, score_plans
from mctd_trainer.maze import load_planner
from mctd_tree.files import write_json

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = ("start jump", "boundary jump", "in-token jump", "over-warp jumps/plan", "wall plans",
         "pass value check", "pass and reach", "reach, valid or not")  # fmt: skip


def sample_plans(den: PlanDenoiser, start, goal, n: int, seed: int, scale: float) -> np.ndarray:
    """``n`` pyramid plans (n, S, 2) in world units from ``start`` to ``goal`` at ``scale``."""
    x = den.noise(n, np.random.default_rng(seed))
    st, gl = den.endpoints(start, goal, n)
    rows = torch.zeros(n, dtype=torch.long)
    x = den.advance(x, st, gl, rows, torch.full((n,), den.last_row), torch.full((n,), scale))
    return den.decode(x, start)


def task_stats(den: PlanDenoiser, maze: MazeMap, start, goal, plans: np.ndarray) -> np.ndarray:
    """The statistics of ``NAMES`` over one task's (n, S, 2) plans."""
    cfg = den.cfg
    jumps = plan_moves(start, plans)
    k = cfg.token_size
    boundary = jumps[:, k::k]
    inner = np.delete(jumps, np.r_[0, k::k], axis=1)
    warp = den.default_warp()
    score = score_plans(maze, plans, start, goal, cfg.every, warp)
    return np.array(
        [
            jumps[:, 0].mean(),
            boundary.mean() if boundary.size else 0.0,
            inner.mean(),
            (jumps > warp).sum(1).mean(),
            in_wall(maze, plans).any(1).mean(),
            1 - score.rejected.mean(),
            (score.value > 0).mean(),
            (score.reach_index >= 0).mean(),
        ]
    )


def planner_stats(
    den: PlanDenoiser, plans: int, scale: float
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Mean of :func:`task_stats` over the maze's 5 tasks (task i sampled with seed i), and the
    plans of each task."""
    maze = MazeMap.load(den.cfg.maze)
    stats, sampled = [], []
    for seed, (s, g) in enumerate(TASKS[den.cfg.maze]):
        start, goal = cell_to_xy(np.array(s, float)), cell_to_xy(np.array(g, float))
        sampled.append(sample_plans(den, start, goal, plans, seed, scale))
        stats.append(task_stats(den, maze, start, goal, sampled[-1]))
    return np.mean(stats, axis=0), sampled


def wall_depth(maze: MazeMap, pts: np.ndarray) -> np.ndarray:
    """Distance from each point of (P, 2) to the nearest free cell's square (0 inside one)."""
    free = np.argwhere(maze.grid == 0)
    lo = np.stack([CELL * free[:, 1] - 6.0, CELL * free[:, 0] - 6.0], axis=-1)
    gap = np.maximum(np.maximum(lo[None] - pts[:, None], pts[:, None] - (lo[None] + CELL)), 0.0)
    return np.sqrt((gap**2).sum(-1)).min(axis=1)


def wall_report(den: PlanDenoiser, sampled: list[np.ndarray]) -> dict[str, list[float]]:
    """Where the plans of each task (from :func:`planner_stats`) have states in walls."""
    maze = MazeMap.load(den.cfg.maze)
    share, index, depth, cells = [], [], [], Counter()
    for seed, batch in enumerate(sampled):
        wall = in_wall(maze, batch)
        share.append(float(wall.any(1).mean()))
        index.extend(np.nonzero(wall)[1].tolist())
        depth.extend(wall_depth(maze, batch[wall]).tolist())
        cells.update(f"{tuple(c)} (task {seed + 1})" for c in xy_to_cell(batch[wall]).tolist())
    states = den.cfg.n_states
    bins = np.histogram(index, bins=np.arange(0, states + 50, 50))[0]
    print(f"  wall plans per task: {' / '.join(f'{v:.0%}' for v in share)}")
    print(f"  wall states by position (50-state bins): {' '.join(map(str, bins))}")
    if depth:
        q = np.percentile(depth, [25, 50, 75])
        print(f"  depth into the wall (quartiles): {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}")
        top = ", ".join(f"{k}: {v}" for k, v in cells.most_common(4))
        print(f"  wall cells hit most (states): {top}")
    return {"wall_share_by_task": share, "wall_states_by_bin": bins.tolist(), "depth": depth}


def jump_report(den: PlanDenoiser, sampled: list[np.ndarray]) -> dict[str, list[float]]:
    """Where the plans of each task jump over the warp threshold, and how far the first token's
    states move per step against the states after the first 100 (data: at most 0.28)."""
    warp, k = den.default_warp(), den.cfg.token_size
    per_task, index, first, later = [], [], [], []
    for (s, _), batch in zip(TASKS[den.cfg.maze], sampled, strict=True):
        steps = plan_moves(cell_to_xy(np.array(s, float)), batch)
        per_task.append(float((steps > warp).sum(1).mean()))
        index.extend(np.nonzero(steps > warp)[1].tolist())
        first.append(float(steps[:, 1:k].mean()))
        later.append(float(steps[:, 100:].mean()))
    early = float(np.mean(np.array(index) < 50)) if index else 0.0
    print(f"  over-warp jumps per plan, per task: {' / '.join(f'{v:.1f}' for v in per_task)}")
    print(f"  share of them in the first 50 states: {early:.0%}")
    print(
        f"  mean step in the first token per task: {' / '.join(f'{v:.2f}' for v in first)}"
        f" (after state 100: {np.mean(later):.2f})"
    )
    return {"jumps_by_task": per_task, "jumps_first_50": [early], "first_token_step": first}


def training_log(folder: str, step: int, window: int = 2000) -> tuple[float, float]:
    """(mean logged training loss over steps (step - window, step], minutes trained up to step)
    from the run's TensorBoard events; NaN where the folder has none."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    losses: dict[int, float] = {}
    seconds = 0.0
    for f in sorted((Path(folder) / "tb").glob("events.*")):
        acc = EventAccumulator(str(f))
        acc.Reload()
        if "train/loss" not in acc.Tags()["scalars"]:
            continue
        events = [e for e in acc.Scalars("train/loss") if e.step <= step]
        losses |= {e.step: e.value for e in events}
        if len(events) > 1:
            seconds += events[-1].wall_time - events[0].wall_time
    recent = [v for k, v in losses.items() if k > step - window]
    return (float(np.mean(recent)) if recent else float("nan")), seconds / 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("planners", nargs="+", help="planner folders (the first is the baseline)")
    ap.add_argument("--plans", type=int, default=8, help="plans per task")
    ap.add_argument("--gains", type=float, nargs="*", default=[], help="guidance gains to try")
    ap.add_argument("--scale", type=float, default=1.0, help="guidance scale with --gains")
    ap.add_argument("--raw", action="store_true", help="raw weights, not the EMA ones")
    ap.add_argument("--walls", action="store_true", help="also where plans hit walls and jump")
    ap.add_argument("--levels", type=int, default=50, help="DDIM levels per token")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows, base = [], None
    for folder in args.planners:
        model, cfg, step = load_planner(folder, ema=not args.raw)
        for gain in [0.0, *args.gains]:
            den = PlanDenoiser(model, cfg, levels=args.levels, guidance_gain=gain or 1.0)
            stats, sampled = planner_stats(den, args.plans, args.scale if gain else 0.0)
            base = stats if base is None else base
            label = "unguided" if not gain else f"gain {gain:g}, scale {args.scale:g}"
            loss, minutes = training_log(folder, step)
            print(
                f"{folder} (step {step}, every={cfg.every}, {label}; training loss {loss:.3f}, "
                f"{minutes:.0f} min):"
            )
            for name, v, b in zip(NAMES, stats, base, strict=True):
                ratio = f"  (x{v / b:.2f} of the baseline)" if b > 0 and not gain else ""
                print(f"  {name:>22}: {v:.3f}{ratio}")
            rows.append(
                {"planner": folder, "step": step, "gain": gain, "scale": args.scale if gain else 0}
                | {"training loss": loss, "minutes": minutes}
                | dict(zip(NAMES, map(float, stats), strict=True))
            )
            if args.walls and not gain:
                rows[-1]["walls"] = wall_report(den, sampled)
                rows[-1]["jumps"] = jump_report(den, sampled)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "maze_plan_stats.json", rows)


if __name__ == "__main__":
    main()
