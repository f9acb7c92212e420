"""Evaluate planners on a maze's 5 tasks x seeds: execute each plan open loop, collect metrics.

A row per (method, task, seed): success (the executed path comes within 1.0 of the goal within the
horizon), first-reach step and the noise-free BFS oracle's step count, planning wall time, NFE,
sequential batched calls, expansions, fraction of rejected simulated plans. ``summarize`` gives per
method the success rate (mean and std over seeds of the per-seed rate over tasks) and means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mctd_diffusion.maze import planners as PL
from mctd_diffusion.maze.data import oracle_action
from mctd_diffusion.maze.env import SUCCESS_RADIUS, execute_plan, step
from mctd_diffusion.maze.maps import Cell, MazeMap, cell_to_xy
from mctd_diffusion.maze.pyramid import PlanDenoiser


@dataclass(frozen=True)
class Method:
    """A planner configuration: ``kind`` in diffuser | df | best_of_n | mctd, on the dense or the
    sparse model, with keyword arguments for the planner function."""

    name: str
    kind: str
    sparse: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)


def default_methods(
    budget: int = 100, parallel: int = 25, scale: float = 1.0, warp_factor: float = 1.0
) -> list[Method]:
    """The paper's table: Diffuser, DF, best-of-N (matched to MCTD's NFE), MCTD and its variants.
    ``warp_factor`` multiplies every method's warp threshold (1 = the paper's)."""
    methods = [
        Method("Diffuser", "diffuser", kwargs={"scale": scale}),
        Method("Diffusion Forcing", "df", kwargs={"scale": scale}),
        Method("MCTD", "mctd", kwargs={"budget": budget}),
        Method("Best-of-N (matched NFE)", "best_of_n"),
        Method("P-MCTD", "mctd", kwargs={"budget": budget, "parallel": parallel}),
        Method("S-MCTD", "mctd", sparse=True, kwargs={"budget": budget}),
        Method("Fast-MCTD", "mctd", sparse=True, kwargs={"budget": budget, "parallel": parallel}),
    ]
    return [
        Method(m.name, m.kind, m.sparse, {**m.kwargs, "warp_factor": warp_factor}) for m in methods
    ]


def oracle_steps(maze: MazeMap, start: Cell, goal: Cell, horizon: int = 2000) -> int:
    """Steps the noise-free BFS oracle takes from ``start`` to within 1.0 of ``goal``."""
    pos, target = cell_to_xy(start)[None], cell_to_xy(goal)
    for t in range(horizon):
        if np.linalg.norm(pos[0] - target) <= SUCCESS_RADIUS:
            return t
        pos = step(maze, pos, oracle_action(maze, pos, np.array([goal])))
    return -1


def run_method(
    method: Method,
    den: PlanDenoiser,
    maze: MazeMap,
    start: np.ndarray,
    goal: np.ndarray,
    seed: int,
    n_matched: int | None = None,
) -> PL.PlanResult:
    """Plan once with ``method``."""
    if method.kind == "diffuser":
        return PL.plan_diffuser(den, maze, start, goal, seed=seed, **method.kwargs)
    if method.kind == "df":
        return PL.plan_df(den, maze, start, goal, seed=seed, **method.kwargs)
    if method.kind == "best_of_n":
        n = method.kwargs.get("n", n_matched)
        if n is None:
            raise ValueError("best_of_n needs n (or an MCTD run earlier to match its NFE)")
        kw = {k: v for k, v in method.kwargs.items() if k != "n"}
        return PL.plan_best_of_n(den, maze, start, goal, n=int(n), seed=seed, **kw)
    if method.kind == "mctd":
        return PL.plan_mctd(den, maze, start, goal, seed=seed, **method.kwargs)
    raise ValueError(f"unknown method kind {method.kind!r}")


def evaluate_planners(
    maze_name: str,
    dense: PlanDenoiser,
    sparse: PlanDenoiser | None,
    methods: Sequence[Method],
    seeds: Sequence[int] = (0, 1, 2),
    tasks: Sequence[int] | None = None,
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Rows of metrics for every method x task x seed (see module docstring).

    Best-of-N without an explicit ``n`` gets N = round(mean MCTD NFE / mean NFE of one sample),
    from the rows of the method named "MCTD" earlier in ``methods``.
    """
    maze = MazeMap.load(maze_name)
    task_ids = list(range(len(maze.tasks))) if tasks is None else list(tasks)
    oracle = {i: oracle_steps(maze, *maze.tasks[i]) for i in task_ids}
    rows: list[dict[str, Any]] = []
    for method in methods:
        den = sparse if method.sparse else dense
        if den is None:
            continue
        n_matched = matched_n(rows, den) if method.kind == "best_of_n" else None
        for seed in seeds:
            for i in task_ids:
                row = evaluate_run(method, den, maze, i, seed, n_matched, oracle[i])
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def evaluate_run(
    method: Method,
    den: PlanDenoiser,
    maze: MazeMap,
    task: int,
    seed: int,
    n_matched: int | None = None,
    oracle: int | None = None,
) -> dict[str, Any]:
    """Plan task ``task`` (0-based) of ``maze`` once with ``method``, execute the plan open loop,
    and return its metric row (``oracle``: the BFS oracle's steps, computed when not given)."""
    s_cell, g_cell = maze.tasks[task]
    start, goal = cell_to_xy(s_cell), cell_to_xy(g_cell)
    res = run_method(method, den, maze, start, goal, seed, n_matched)
    _, first = execute_plan(maze, res.plan, start, goal, maze.horizon, hold=res.hold)
    return {
        "maze": maze.name,
        "method": method.name,
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


def matched_n(rows: Sequence[dict[str, Any]], den: PlanDenoiser, method: str = "MCTD") -> int:
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
        lines.append(
            f"| {s['maze']} | {s['method']} | {s['success']:.0f} ± {s['success_std']:.0f} "
            f"| {s['wall_time']:.2f} | {s['nfe']:.0f} | {s['calls']:.0f} | {s['expansions']:.1f} "
            f"| {s['rejected_frac']:.2f} | {s['reach_vs_oracle']:.2f} |"
        )
    return "\n".join(lines)
