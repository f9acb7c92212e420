"""gmm2d: what a method's samples look like against the tilted target it should sample.

Diffusion rows carry their samples (``samples_xy``, rounded to 4 decimals; at most ``n_out``
points), so ``report`` can draw ``figures/samples_<task>.png`` from ``results.jsonl`` alone: one
panel per method (columns) and budget (rows), the samples of the cell's lowest seed over the
density contours of the exact target p(x) exp(lam r(x)) / Z. With ``--save-trees`` the rows of
tree methods (dts, dts_star) also carry their tree viewer (edges labelled by the denoising step
they reach).
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mctd_eval.config import Cell
from mctd_eval.rundir import write_atomic

SAMPLES_KEY = "samples_xy"
LEVELS = [-12.0, -8.0, -4.0, -2.0, -0.5, 0.0]  # log density relative to the mode's


def diffusion_extras(cell: Cell, run: Any, save_trees: bool) -> dict[str, Any]:
    """Row additions of a diffusion cell: its samples, and its tree files when asked."""
    out: dict[str, Any] = {SAMPLES_KEY: np.round(np.asarray(run.samples)[:, :2], 4).tolist()}
    if save_trees and run.tree is not None:
        from mctd_tree import SearchResult
        from mctd_tree.viewer import answer_node

        from mctd_eval.trees import FILES_KEY, tree_files, value_name

        def label(tree: Any, node: int) -> str:
            return "root" if node == 0 else f"to step {tree.states[node].step}"

        answer = answer_node(SearchResult(None, run.best_reward, tree=run.tree))
        meta = {"method": cell.method, "best reward": f"{run.best_reward:.4g}", "nfe": run.nfe}
        out[FILES_KEY] = tree_files(cell.key, run.tree, label, answer, meta, value_name("soft"))
    return out


def _grid(task: Any, n: int = 160) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X, Y, log density - its max) of the tilted target on a grid around the mixture's modes."""
    mix = task.mixture()
    lo = float(mix.means.min() - 3 * mix.stds.max())
    hi = float(mix.means.max() + 3 * mix.stds.max())
    xs = np.linspace(lo, hi, n)
    gx, gy = np.meshgrid(xs, xs)
    lp = task.target().log_prob(np.stack([gx.ravel(), gy.ravel()], axis=1))
    return gx, gy, (lp - lp.max()).reshape(gx.shape)


def write_sample_figures(
    rows: Sequence[dict[str, Any]], config: dict[str, Any], folder: Path
) -> list[Path]:
    """``samples_<task>.png`` per diffusion task whose rows carry samples, and the digit grids
    of image tasks (``figures.write_digit_grids``); returns the paths."""
    from mctd_eval.tasks import task_family

    image = [t for t in config.get("tasks", []) if task_family(t) == "image"]
    if image:
        from mctd_eval.figures import DIGIT_IMAGES_KEY, write_digit_grids

        mine = [r for r in rows if r.get("task") in image]
        return write_digit_grids(mine, config, folder, DIGIT_IMAGES_KEY)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for task in config.get("tasks", []):
        cells = [r for r in rows if r.get("task") == task and r.get(SAMPLES_KEY)]
        if not cells:
            continue
        from mctd_diffusion.tasks.gmm2d import Gmm2dTask

        lam = float((config.get("task_params", {}).get(task) or {}).get("lam", 1.0))
        gx, gy, dens = _grid(Gmm2dTask(lam=lam))
        methods = [m for m in config.get("methods", []) if any(r["method"] == m for r in cells)]
        budgets = sorted({r["budget"] for r in cells}, key=lambda b: -1 if b is None else b)
        fig, axes = plt.subplots(
            len(budgets),
            len(methods),
            figsize=(2.4 * len(methods), 2.4 * len(budgets)),
            squeeze=False,
            sharex=True,
            sharey=True,
        )
        for i, b in enumerate(budgets):
            for j, m in enumerate(methods):
                ax = axes[i][j]
                ax.contourf(gx, gy, dens, levels=LEVELS, cmap="Blues", alpha=0.5)
                ax.contour(gx, gy, dens, levels=LEVELS, colors="#7f8c9d", linewidths=0.4)
                mine = sorted(
                    (r for r in cells if r["method"] == m and r["budget"] == b),
                    key=lambda r: r["seed"],
                )
                if mine:
                    xy = np.asarray(mine[0][SAMPLES_KEY], dtype=float)
                    ax.scatter(xy[:, 0], xy[:, 1], s=4, color="#c0392b", alpha=0.6, lw=0)
                    mmd = mine[0].get("mmd")
                    note = f"seed {mine[0]['seed']}, n={len(xy)}"
                    if mmd is not None and math.isfinite(mmd):
                        note += f", mmd {mmd:.2f}"
                    ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=6)
                if i == 0:
                    ax.set_title(m, fontsize=9)
                if j == 0:
                    ax.set_ylabel(f"NFE budget {b}", fontsize=8)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_aspect("equal")
        fig.suptitle(
            f"{task}: samples (red) over the tilted target's log density (lam={lam:g}; contours "
            "at -12, -8, -4, -2, -0.5 from the top)",
            fontsize=9,
        )
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90, metadata={"Software": None})
        plt.close(fig)
        path = folder / f"samples_{task}.png"
        write_atomic(path, buf.getvalue())
        paths.append(path)
    return paths
