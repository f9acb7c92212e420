"""Evaluate planners on a maze's 5 tasks x seeds: execute each plan open loop, collect metrics.

A row per (method, task, seed): success (the executed path comes within 1.0 of the goal within the
horizon), first-reach step and the noise-free BFS oracle's step count, planning wall time, NFE,
sequential batched calls, expansions, fraction of rejected simulated plans. ``summarize`` gives per
method the success rate (mean and std over seeds of the per-seed rate over tasks) and means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from mctd_diffusion.maze import planners as PL
from mctd_diffusion.maze.data import oracle_action
from mctd_diffusion.maze.env import SUCCESS_RADIUS, execute_plan, step
from mctd_diffusion.maze.maps import Cell, MazeMap, cell_to_xy
from mctd_diffusion.maze.pyramid import PlanDenoiser

Planner = Callable[..., PL.PlanResult]  # planner(den, maze, start, goal, *, seed) -> PlanResult

# display names of the paper's table
TITLES = {
    "diffuser": "Diffuser",
    "df": "Diffusion Forcing",
    "mctd": "MCTD",
    "best_of_n": "Best-of-N (matched NFE)",
    "p_mctd": "P-MCTD",
    "s_mctd": "S-MCTD",
    "fast_mctd": "Fast-MCTD",
}


def default_methods(
    budget: int = 100, parallel: int = 25, scale: float = 1.0, warp_factor: float = 1.0
) -> dict[str, tuple[Planner, bool]]:
    """The paper's table, name -> (planner, runs on the sparse model): Diffuser, DF, MCTD,
    best-of-N (N matched to MCTD's NFE: bind ``n``, see :func:`needs_n`) and MCTD's variants.
    ``budget``: MCTD's expansions; ``warp_factor`` multiplies every warp threshold (1: paper's)."""
    w = warp_factor
    mctd = partial(PL.plan_mctd, budget=budget, warp_factor=w)
    return {
        "diffuser": (partial(PL.plan_diffuser, scale=scale, warp_factor=w), False),
        "df": (partial(PL.plan_df, scale=scale, warp_factor=w), False),
        "mctd": (mctd, False),
        "best_of_n": (partial(PL.plan_best_of_n, warp_factor=w), False),
        "p_mctd": (partial(mctd, parallel=parallel), False),
        "s_mctd": (mctd, True),
        "fast_mctd": (partial(mctd, parallel=parallel), True),
    }


def needs_n(planner: Planner) -> bool:
    """Whether ``planner`` is best-of-N still waiting for its N (to be matched to an NFE)."""
    return (
        isinstance(planner, partial)
        and planner.func is PL.plan_best_of_n
        and "n" not in planner.keywords
    )


def oracle_steps(maze: MazeMap, start: Cell, goal: Cell, horizon: int = 2000) -> int:
    """Steps the noise-free BFS oracle takes from ``start`` to within 1.0 of ``goal``."""
    pos, target = cell_to_xy(start)[None], cell_to_xy(goal)
    for t in range(horizon):
        if np.linalg.norm(pos[0] - target) <= SUCCESS_RADIUS:
            return t
        pos = step(maze, pos, oracle_action(maze, pos, np.array([goal])))
    return -1


def evaluate_planners(
    maze_name: str,
    dense: PlanDenoiser,
    sparse: PlanDenoiser | None,
    methods: Mapping[str, tuple[Planner, bool]],
    seeds: Sequence[int] = (0, 1, 2),
    tasks: Sequence[int] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of metrics for every method x task x seed (see module docstring).

    ``methods``: name -> (planner, sparse), as :func:`default_methods` gives. Best-of-N without an
    explicit ``n`` gets N = round(mean MCTD NFE / mean NFE of one sample), from the rows of the
    method named "mctd" earlier in ``methods``.
    """
    maze = MazeMap.load(maze_name)
    task_ids = list(range(len(maze.tasks))) if tasks is None else list(tasks)
    oracle = {i: oracle_steps(maze, *maze.tasks[i]) for i in task_ids}
    rows: list[dict[str, Any]] = []
    for name, (planner, on_sparse) in methods.items():
        den = sparse if on_sparse else dense
        if den is None:
            continue
        if needs_n(planner):
            planner = partial(planner, n=matched_n(rows, den))
        for seed in seeds:
            for i in task_ids:
                row = evaluate_run(planner, den, maze, i, seed, oracle[i], name)
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def evaluate_run(
    planner: Planner,
    den: PlanDenoiser,
    maze: MazeMap,
    task: int,
    seed: int,
    oracle: int | None = None,
    name: str = "",
) -> dict[str, Any]:
    """Plan task ``task`` (0-based) of ``maze`` once with ``planner``, execute the plan open loop,
    and return its metric row (``oracle``: the BFS oracle's steps, computed when not given;
    ``name``: the row's method)."""
    s_cell, g_cell = maze.tasks[task]
    start, goal = cell_to_xy(s_cell), cell_to_xy(g_cell)
    res = planner(den, maze, start, goal, seed=seed)
    _, first = execute_plan(maze, res.plan, start, goal, maze.horizon, hold=res.hold)
    return {
        "maze": maze.name,
        "method": name,
        "task": task + 1,
        "seed": seed,
        "success": bool(first >= 0),
        "first_reach": int(first),
        "oracle_steps": oracle_steps(maze, s_cell, g_cell) if oracle is None else oracle,
        "wall_time": res.wall_time,
        "nfe": res.nfe,
        "calls": res.calls,
        "expansions": res.expansions,
        "rejected_frac": res.rejected_frac,
        "chosen_by": res.chosen_by,
        **{k: v for k, v in res.info.items() if isinstance(v, int | float | bool)},
    }


def matched_n(rows: Sequence[dict[str, Any]], den: PlanDenoiser, method: str = "mctd") -> int:
    """Best-of-N's N at the mean NFE of ``method``'s rows: NFE / the NFE of one sample."""
    nfe = [r["nfe"] for r in rows if r["method"] == method]
    if not nfe:
        raise ValueError(f"best-of-N at matched compute needs the {method} rows first")
    return max(1, round(float(np.mean(nfe)) / sample_nfe(den)))


def sample_nfe(den: PlanDenoiser) -> float:
    """Mean NFE of one best-of-N sample: scales cycle over 5 levels, 4 of them guided."""
    return den.last_row * (1 + 4 / 5)


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (maze, method): success mean/std over seeds (in %), and mean counters."""
    out = []
    keys = dict.fromkeys((r["maze"], r["method"]) for r in rows)
    for maze, method in keys:
        rs = [r for r in rows if r["maze"] == maze and r["method"] == method]
        seeds = sorted({r["seed"] for r in rs})
        per_seed = [100 * np.mean([r["success"] for r in rs if r["seed"] == s]) for s in seeds]
        ok = [r for r in rs if r["success"]]
        out.append(
            {
                "maze": maze,
                "method": method,
                "success": float(np.mean(per_seed)),
                "success_std": float(np.std(per_seed)),
                "runs": len(rs),
                "reach_vs_oracle": float(
                    np.mean([r["first_reach"] / r["oracle_steps"] for r in ok])
                )
                if ok
                else float("nan"),
                **{
                    k: float(np.mean([r[k] for r in rs]))
                    for k in ("wall_time", "nfe", "calls", "expansions", "rejected_frac")
                },
            }
        )
    return out


def format_table(summary: Sequence[dict[str, Any]]) -> str:
    """A markdown table shaped like the paper's (success %, planning seconds) plus counters."""
    lines = [
        "| maze | method | success % (± std over seeds) | plan time s | NFE | seq. calls "
        "| expansions | rejected | reach / oracle |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        title = TITLES.get(s["method"], s["method"])
        lines.append(
            f"| {s['maze']} | {title} | {s['success']:.0f} ± {s['success_std']:.0f} "
            f"| {s['wall_time']:.2f} | {s['nfe']:.0f} | {s['calls']:.0f} | {s['expansions']:.1f} "
            f"| {s['rejected_frac']:.2f} | {s['reach_vs_oracle']:.2f} |"
        )
    return "\n".join(lines)
