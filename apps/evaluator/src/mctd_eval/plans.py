"""Maze plans on the map (``mctd-eval run --save-trees`` on maze tasks).

Per cell: ``figures/plans/<cell>.png`` (walls, start, goal, every candidate plan the planner made
or simulated, faded, rejected ones dashed, the chosen plan, and the trajectory the PD tracker
executed) and for MCTD methods its tree viewer (edges = guidance levels), plus
``figures/plans/<cell>.gif``: the partial plans of MCTD's nodes in the order the search made them.

The row's planner call returns metrics only, so the cell is planned a second time with the same
arguments (``run_method``; the planners are deterministic for a seed, tested in mctd-diffusion),
and the figure's title says whether the re-plan spent the row's NFE (it must). This doubles the
planning time of cells run with ``--save-trees``.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np

from mctd_eval.config import Cell

if TYPE_CHECKING:
    from mctd_eval.maze import MazeRunner

MAX_CANDIDATES = 200
MAX_FRAMES = 40


def _draw_map(ax: Any, maze: Any, start: np.ndarray, goal: np.ndarray) -> None:
    rows, cols = maze.shape
    ax.imshow(
        maze.grid,
        origin="lower",
        extent=(-6, 4 * cols - 6, -6, 4 * rows - 6),
        cmap="Greys",
        vmin=0,
        vmax=1.6,
        interpolation="nearest",
    )
    ax.plot(*start, "o", color="#1f77b4", ms=9, label="start", zorder=5)
    ax.plot(*goal, "*", color="#d4a017", ms=15, mec="k", mew=0.5, label="goal", zorder=5)
    ax.set_xticks([])
    ax.set_yticks([])


def _clip_to_map(ax: Any, maze: Any) -> None:
    """The map's extent (plans that leave it are cut at its border, as the walls would)."""
    rows, cols = maze.shape
    ax.set_xlim(-6, 4 * cols - 6)
    ax.set_ylim(-6, 4 * rows - 6)


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def plan_figure(
    maze: Any, start: np.ndarray, goal: np.ndarray, res: Any, traj: np.ndarray, title: str
) -> bytes:
    """PNG bytes: candidates faded (rejected dashed), the chosen plan, the executed path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 5.2))
    _draw_map(ax, maze, start, goal)
    cands = res.info.get("candidates", [])[:MAX_CANDIDATES]
    flags = res.info.get("rejected", [False] * len(cands))
    for i, (c, rej) in enumerate(zip(cands, flags, strict=False)):
        ax.plot(
            c[:, 0],
            c[:, 1],
            ls="--" if rej else "-",
            color="#7f7f7f" if rej else "#9467bd",
            alpha=0.25,
            lw=0.8,
            label=("rejected candidate" if rej else "candidate") if i < 2 else None,
        )
    ax.plot(res.plan[:, 0], res.plan[:, 1], "-", color="#2ca02c", lw=2.2, label="chosen plan")
    ax.plot(traj[:, 0], traj[:, 1], "-", color="#d62728", lw=1.3, label="executed")
    handles, labels = ax.get_legend_handles_labels()
    keep = dict(zip(labels, handles, strict=False))
    ax.legend(keep.values(), keep.keys(), fontsize=7, loc="upper left", framealpha=0.85)
    ax.set_title(title, fontsize=8)
    _clip_to_map(ax, maze)
    fig.tight_layout()
    return _png(fig)


def partial_plans_gif(
    maze: Any, start: np.ndarray, goal: np.ndarray, tree: Any, den: Any, title: str
) -> bytes:
    """GIF bytes: the partially denoised plan of each MCTD node in creation order (its clean
    prefix, the tokens already at noise level 0, solid; the still-noisy rest faded)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch
    from PIL import Image

    nodes = [n for n in range(1, len(tree)) if tree.materialized[n]][:MAX_FRAMES]
    frames = []
    for k, n in enumerate(nodes):
        state = tree.states[n]
        with torch.no_grad():
            plan = den.decode(state.x[None], start)[0]
            levels = den.pyramid_levels(torch.tensor([state.row]))[0]
        clean = int((levels == 0).sum()) * (len(plan) // max(1, int(state.x.shape[0])))
        fig, ax = plt.subplots(figsize=(4, 4))
        _draw_map(ax, maze, start, goal)
        ax.plot(plan[:, 0], plan[:, 1], "-", color="#9467bd", lw=0.8, alpha=0.3)
        ax.plot(plan[:clean, 0], plan[:clean, 1], "-", color="#2ca02c", lw=2.0)
        _clip_to_map(ax, maze)
        ax.set_title(
            f"{title}\nnode {n} (#{k + 1}): depth {int(tree.depth[n])}, row {state.row}, "
            f"scale {state.scale:g}; clean prefix green, noisy rest faded",
            fontsize=7,
        )
        fig.tight_layout()
        frames.append(Image.open(io.BytesIO(_png(fig))).convert("P"))
    if not frames:
        return b""
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=500, loop=0)
    return buf.getvalue()


def maze_files(
    runner: MazeRunner, cell: Cell, plan: Any, sparse: bool, row: dict[str, Any]
) -> dict[str, bytes]:
    """The plan figure (and MCTD's tree viewer and partial-plan GIF) of one maze cell, planned
    again with the row's planner callable ``plan`` (deterministic for a seed)."""
    from mctd_diffusion.maze import cell_to_xy
    from mctd_diffusion.maze.env import execute_plan
    from mctd_tree import SearchResult
    from mctd_tree.viewer import answer_node, indexed_label

    from mctd_eval.trees import cell_stem, tree_files, value_name

    maze = runner.mazes[cell.task]
    den, _ = runner.planners[(cell.task, sparse)]
    start, goal = (cell_to_xy(c) for c in maze.tasks[cell.prompt])
    res = plan(den, maze, start, goal, seed=cell.seed)
    traj, first = execute_plan(maze, res.plan, start, goal, maze.horizon, hold=res.hold)
    same = "same NFE as the row" if res.nfe == row["nfe"] else f"NFE {res.nfe} != row's"
    title = (
        f"{cell.key}\n{'reached at step ' + str(first) if first >= 0 else 'goal not reached'}; "
        f"chosen by {res.chosen_by}; {len(res.info.get('candidates', []))} candidates; {same}"
    )
    stem = cell_stem(cell.key)
    files = {f"figures/plans/{stem}.png": plan_figure(maze, start, goal, res, traj, title)}
    tree = res.info.get("tree")
    if tree is not None:
        label = indexed_label(res.info["levels"], "scale {}")
        best = SearchResult(None, float("-inf"), tree=tree)
        meta = {"method": cell.method, "nfe": res.nfe, "chosen by": res.chosen_by}
        files.update(tree_files(cell.key, tree, label, answer_node(best), meta, value_name("max")))
        gif = partial_plans_gif(maze, start, goal, tree, den, cell.key)
        if gif:
            files[f"figures/plans/{stem}.gif"] = gif
    return files
