"""PNG figures (matplotlib, Agg backend): reward vs NFE, success vs NFE, time per sample, and
diversity vs reward (language-model tasks), MMD vs NFE, mean reward vs NFE and time per cell
(diffusion tasks), success vs NFE and success vs planning time (maze tasks), or target-class
rate vs NFE and vs FLOPs, Frechet distance vs NFE and time (image tasks); one panel per
task, one line per method through its budgets, with the 95% interval of the y value as error
bars (range-respecting: see ``stats.estimate``) and the number of cells per point in the legend.
NFE on an x axis is the mean NFE the cells actually spent, never the nominal budget.
`write_digit_grids` draws the decoded samples of image tasks, one grid per method and budget."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mctd_eval.rundir import write_atomic
from mctd_eval.summary import Group

FIGURES = {
    "reward_vs_nfe.png": ("nfe", "reward", "NFE (positions processed)", "reward (best answer)"),
    "success_vs_nfe.png": ("nfe", "success", "NFE (positions processed)", "success rate"),
    "time_per_sample.png": ("nfe", "wall_s", "NFE (positions processed)", "seconds per prompt"),
    "diversity_vs_reward.png": ("dissimilarity", "reward", "pairwise dissimilarity", "reward"),
}

_DNFE = "NFE (denoiser evaluations per element)"
DIFFUSION_FIGURES = {
    "mmd_vs_nfe.png": ("nfe", "mmd", _DNFE, "MMD to the tilted target (lower is better)"),
    "reward_vs_nfe.png": ("nfe", "mean_reward", _DNFE, "mean reward of the samples"),
    "time_per_sample.png": ("nfe", "wall_s", _DNFE, "seconds per cell"),
}

_MNFE = "NFE (planner evaluations per element)"
MAZE_FIGURES = {
    "success_vs_nfe.png": ("nfe", "success", _MNFE, "success rate"),
    "success_vs_time.png": ("wall_s", "success", "planning seconds per task", "success rate"),
}
_UNFE = "NFE (UNet evaluations per element)"
IMAGE_FIGURES = {
    "target_rate_vs_nfe.png": ("nfe", "target_rate", _UNFE, "target-class rate"),
    "target_rate_vs_flops.png": ("mflops", "target_rate", "MFLOP (UNet, as run)", "target rate"),
    "frechet_vs_nfe.png": ("nfe", "frechet", _UNFE, "Frechet distance (classifier features)"),
    "time_per_sample.png": ("nfe", "wall_s", _UNFE, "seconds per cell"),
}
_SPECS = {
    "lm": FIGURES,
    "diffusion": DIFFUSION_FIGURES,
    "maze": MAZE_FIGURES,
    "image": IMAGE_FIGURES,
}
LOG_X = ("nfe", "wall_s", "mflops")
GRID_COLUMNS = 8  # digit grids: 8 images a row
DIGIT_IMAGES_KEY = "digit_images"  # image-task rows: decoded samples, 8x8 pixels each


def write_png(fig: Any, path: Path, dpi: int) -> Path:
    """Save a matplotlib figure as PNG atomically (no timestamp metadata) and close it."""
    import io

    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    write_atomic(path, buf.getvalue())
    return path


def _gap(x: float) -> float:
    """An error-bar length; 0 where the interval is undefined (a single value)."""
    return 0.0 if math.isnan(x) else max(x, 0.0)


def _legend_with_n(ax: Any, groups: Sequence[Group]) -> None:
    """The legend, each method labelled with n (cells per point; a range when it varies)."""
    handles, labels = ax.get_legend_handles_labels()
    named = []
    for m in labels:
        ns = sorted({g.n for g in groups if g.method == m})
        named.append(f"{m} (n={ns[0]})" if len(ns) == 1 else f"{m} (n={ns[0]}-{ns[-1]})")
    ax.legend(handles, named, fontsize=7)


def write_figures(groups: Sequence[Group], folder: Path) -> list[Path]:
    """Write the figures into ``folder`` (atomically); returns their paths. Language-model
    tasks get the four FIGURES, diffusion tasks DIFFUSION_FIGURES (``mmd_vs_nfe.png`` first),
    maze tasks MAZE_FIGURES."""

    import matplotlib

    from mctd_eval.tasks import task_family

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    tasks = list(dict.fromkeys(g.task for g in groups))
    families = {task_family(t) for t in tasks}
    specs = _SPECS[families.pop()] if len(families) == 1 else FIGURES
    methods = list(dict.fromkeys(g.method for g in groups))
    colors = {m: plt.get_cmap("tab10")(i % 10) for i, m in enumerate(methods)}
    paths = []
    for fname, (xk, yk, xlabel, ylabel) in specs.items():
        fig, axes = plt.subplots(
            1, max(1, len(tasks)), figsize=(4.5 * max(1, len(tasks)), 3.6), squeeze=False
        )
        for ax, task in zip(axes[0], tasks, strict=False):
            for m in methods:
                pts = [
                    (g.metrics[xk].mean, g.metrics[yk].mean, g.metrics[yk])
                    for g in groups
                    if g.task == task and g.method == m and xk in g.metrics and yk in g.metrics
                ]
                pts = [p for p in pts if not (math.isnan(p[0]) or math.isnan(p[1]))]
                if xk in LOG_X and pts and all(p[0] <= 0 for p in pts):
                    # a reference at NFE 0 (forecast baselines): a level, not a point on a log axis
                    ref = sum(p[1] for p in pts) / len(pts)
                    ax.axhline(ref, linestyle="--", linewidth=1, color=colors[m], label=m)
                    continue
                if pts:
                    xs = [p[0] for p in pts]
                    ys = [p[1] for p in pts]
                    err = [[_gap(p[1] - p[2].lo) for p in pts], [_gap(p[2].hi - p[1]) for p in pts]]
                    ax.errorbar(xs, ys, yerr=err, marker="o", color=colors[m], label=m, capsize=3)
            ax.set_title(task)
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            if xk in LOG_X:
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(alpha=0.3)
        _legend_with_n(axes[0][0], groups)
        fig.tight_layout()
        paths.append(write_png(fig, folder / fname, 100))
    return paths


def write_digit_grids(
    rows: Sequence[dict[str, Any]], config: dict[str, Any], folder: Path, key: str
) -> list[Path]:
    """``digits_<task>_<method>_<budget>.png``: the decoded samples (rows' ``key``: lists of
    8x8 pixels in [0, 1]) of the lowest seed's cell, with its target rate and NFE."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    paths: list[Path] = []
    for r in sorted(rows, key=lambda r: (r["task"], r["method"], r["budget"] or 0, r["seed"])):
        name = f"digits_{r['task']}_{r['method']}_{r['budget'] or 'natural'}.png"
        images = r.get(key)
        if not images or any(p.name == name for p in paths):
            continue  # the lowest seed only
        n = len(images)
        rows_n = max(1, -(-n // GRID_COLUMNS))
        fig, axes = plt.subplots(
            rows_n, GRID_COLUMNS, figsize=(0.8 * GRID_COLUMNS, 0.8 * rows_n + 0.5), squeeze=False
        )
        for i, ax in enumerate(axes.flat):
            ax.axis("off")
            if i < n:
                ax.imshow(np.asarray(images[i]), cmap="gray_r", vmin=0, vmax=1)
        rate = r.get("target_rate")
        note = "" if rate is None else f", target rate {rate:.2f}"
        fig.suptitle(
            f"{r['task']}: {r['method']}, budget {r['budget']}, {r['nfe']} NFE, seed "
            f"{r['seed']}{note}",
            fontsize=8,
        )
        paths.append(write_png(fig, folder / name, 80))
    return paths
