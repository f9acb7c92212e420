"""Maze tasks: their planners (``--model DIR``), their methods, their cells.

``--model DIR`` is a folder of planner folders written by ``mctd-train maze`` (read with
``mctd_trainer.maze.load_planner``): ``DIR/<maze>-dense`` (every method but s_mctd and fast_mctd)
and ``DIR/<maze>-sparse`` (s_mctd, fast_mctd). The task parameters ``dense`` and
``sparse`` rename them (an absolute path is used as it is). Only the planners that the run's
methods need are loaded; a missing, unreadable or foreign planner is an error naming the path and
the ``mctd-train maze`` command that makes it (raised before the run directory is written).

A cell plans one start/goal task once (``mctd_diffusion.maze.evaluate.evaluate_run``) and executes
the plan open loop: success, first-reach step against the BFS oracle's, planning wall time, NFE
(planner evaluations per batch element; a guided call counts 2), sequential batched calls, MCTD
expansions and the share of simulated plans the value check rejected. ``first_reach`` and
``reach_vs_oracle`` are None (undefined) for a failed plan.

best_of_n is matched to mctd's NFE at the same (task, prompt, budget, seed): N = round(NFE / NFE
of one sample), with the NFE taken from the mctd row this process ran, else from one run of the
(deterministic) MCTD plan made for the purpose. ``--set best_of_n.n=K`` fixes N instead.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion.maze import MazeMap, PlanDenoiser, cell_to_xy
from mctd_diffusion.maze.evaluate import evaluate_run, needs_n, oracle_steps, sample_nfe
from mctd_trainer.maze import load_planner, train_command

from mctd_eval.config import Cell, RunConfig
from mctd_eval.methods import get_method
from mctd_eval.tasks import get_task
from mctd_eval.tasks.maze import MazeTask

_EXTRA = ("iterations", "stopped_early", "max_depth")  # MCTD's search statistics


def planner_dir(model: str, folder: str) -> Path:
    """``folder`` relative to ``--model`` (an absolute ``folder`` as it is)."""
    path = Path(folder)
    if path.is_absolute():
        return path
    if model == "default":
        raise ValueError(
            "maze tasks need --model DIR, a folder holding the planner folders "
            f"(DIR/{folder}, ...) written by `mctd-train maze`"
        )
    return Path(model) / path


def load_denoiser(
    folder: Path, maze: str, sparse: bool, levels: int, gain: float
) -> tuple[PlanDenoiser, str]:
    """(denoiser, label ``<folder>@<step>``) of the planner in ``folder``; a ValueError naming the
    path and the training command when it is missing, unreadable, or of another maze or kind."""
    kind = "sparse" if sparse else "dense"
    path = folder
    hint = f"train it with `{train_command(maze, sparse, folder)}`"
    if not path.is_dir():
        raise ValueError(f"no {kind} planner for maze {maze}: {path} does not exist; {hint}")
    try:
        model, cfg, step = load_planner(path)
    except Exception as err:  # truncated or garbled files raise several types
        raise ValueError(
            f"{path} is not a readable maze planner ({type(err).__name__}: {err}); {hint}"
        ) from None
    if cfg.maze != maze:
        raise ValueError(f"{path} is a planner of maze {cfg.maze!r}, not {maze!r}; {hint}")
    if (cfg.every > 1) != sparse:
        got = "sparse" if cfg.every > 1 else "dense"
        raise ValueError(f"{path} is a {got} planner (every={cfg.every}), not {kind}; {hint}")
    return PlanDenoiser(model, cfg, levels=levels, guidance_gain=gain), f"{folder.name}@{step}"


def _best_of_n_param(cfg: RunConfig) -> int | None:
    n = (cfg.method_params.get("best_of_n") or {}).get("n")
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"best_of_n.n must be an integer >= 1 (or null: matched NFE), got {n!r}")
    return n


class MazeRunner:
    """Runs the cells of a maze-task configuration on its loaded planners (``save_trees``: rows
    also carry the plan figure and MCTD's tree viewer, see ``mctd_eval.plans``)."""

    save_trees = False

    def __init__(self, cfg: RunConfig, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(int(threads))
        self.cfg = cfg
        self.n_fixed = _best_of_n_param(cfg)
        self.tasks: dict[str, MazeTask] = {}
        self.mazes: dict[str, MazeMap] = {}
        self.planners: dict[tuple[str, bool], tuple[PlanDenoiser, str]] = {}
        for name in cfg.tasks:
            task = get_task(name, cfg.task_params.get(name))
            assert isinstance(task, MazeTask)
            self.tasks[name], self.mazes[name] = task, MazeMap.load(task.maze)
            kinds = {get_method(m, "maze").run(1, task)[1] for m in cfg.methods}
            for sparse in sorted(kinds):
                folder = planner_dir(cfg.model, task.sparse if sparse else task.dense)
                self.planners[(name, sparse)] = load_denoiser(
                    folder, task.maze, sparse, task.levels, task.gain
                )
        self._mctd_nfe: dict[tuple[str, int, int | None, int], int] = {}
        self._oracle: dict[tuple[str, int], int] = {}

    def oracle(self, task: str, prompt: int) -> int:
        """The noise-free BFS oracle's steps on start/goal task ``prompt`` (cached)."""
        if (task, prompt) not in self._oracle:
            self._oracle[(task, prompt)] = oracle_steps(
                self.mazes[task], *self.mazes[task].tasks[prompt]
            )
        return self._oracle[(task, prompt)]

    def matched_n(self, cell: Cell) -> tuple[int, int | None]:
        """(N of best_of_n, the mctd NFE it matches; None when ``best_of_n.n`` fixes N)."""
        if self.n_fixed is not None:
            return self.n_fixed, None
        key = (cell.task, cell.prompt, cell.budget, cell.seed)
        den, _ = self.planners[(cell.task, False)]
        if key not in self._mctd_nfe:
            maze = self.mazes[cell.task]
            start, goal = (cell_to_xy(c) for c in maze.tasks[cell.prompt])
            mctd, _ = get_method("mctd", "maze").run(cell.budget, self.tasks[cell.task])
            self._mctd_nfe[key] = mctd(den, maze, start, goal, seed=cell.seed).nfe
        nfe = self._mctd_nfe[key]
        return max(1, round(nfe / sample_nfe(den))), nfe

    def run(self, cell: Cell) -> dict[str, Any]:
        from mctd_eval.runner import base_row, clean

        task, maze = self.tasks[cell.task], self.mazes[cell.task]
        plan, sparse = get_method(cell.method, "maze").run(cell.budget, task)
        den, planner = self.planners[(cell.task, sparse)]
        n, matched = self.matched_n(cell) if needs_n(plan) else (None, None)
        if n is not None:
            plan = partial(plan, n=n)
        oracle = self.oracle(cell.task, cell.prompt)
        t0 = time.perf_counter()
        r = evaluate_run(plan, den, maze, cell.prompt, cell.seed, oracle, cell.method)
        total = time.perf_counter() - t0
        if cell.method == "mctd":
            self._mctd_nfe[(cell.task, cell.prompt, cell.budget, cell.seed)] = int(r["nfe"])
        ok = bool(r["success"])
        label = task.instances(cell.prompt + 1)[cell.prompt].label
        row: dict[str, Any] = {
            **base_row(cell, label, r["nfe"], r["calls"], r["wall_time"]),
            "planner": planner,
            "success": ok,
            "first_reach": r["first_reach"] if ok else None,
            "oracle_steps": oracle,
            "reach_vs_oracle": r["first_reach"] / oracle if ok and oracle > 0 else None,
            "eval_wall_s": total - r["wall_time"],
            "expansions": r["expansions"],
            "rejected_frac": r["rejected_frac"],
            "chosen_by": r["chosen_by"],
            "n_samples": n,
            "matched_nfe": matched,
            **{k: r.get(k) for k in _EXTRA},
        }
        if self.save_trees:
            from mctd_eval.plans import maze_files
            from mctd_eval.trees import FILES_KEY

            row[FILES_KEY] = maze_files(self, cell, plan, sparse, row)
        return clean(row)
