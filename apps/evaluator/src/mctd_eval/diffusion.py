"""Diffusion tasks: their methods (from ``mctd_diffusion.methods``), their denoiser, their cells.

A diffusion task runs on a denoiser, not a language model: ``--model`` is ``exact`` (or
``default``: the closed-form noise predictor of the task's Gaussian mixture, no training needed)
or a checkpoint folder written by ``mctd-train gmm2d`` (``config.json`` + ``checkpoints/
ckpt-*.safetensors``; the newest checkpoint whose SHA-256 verifies is used). A cell is
(method, NFE budget, seed): the method's ``run`` (``mctd_diffusion.tasks.gmm2d.evaluate_cell``
with its sampler bound) scores it against the exact tilted target. NFE = denoiser evaluations
per batch element (a guided call counts 2).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion import ExactMixtureDenoiser
from mctd_diffusion.tasks.gmm2d import Gmm2dTask
from mctd_trainer import checkpoints

from mctd_eval.config import Cell, RunConfig
from mctd_eval.methods import get_method
from mctd_eval.tasks import get_task

EXACT_MODELS = ("exact", "default")


def load_denoiser(model: str, task: Gmm2dTask) -> tuple[Gmm2dTask, torch.nn.Module, str]:
    """(task geometry, denoiser in eval mode, label) for ``--model`` (``exact`` or a folder).

    A checkpoint's own task geometry (modes, schedule, reward) replaces ``task``'s; ``lam`` stays
    the evaluation's. Errors are ValueErrors with the reason (reported before any file is written).
    """
    if model in EXACT_MODELS:
        sched = task.scheduler("ddim", eta=1.0)
        return task, ExactMixtureDenoiser(task.mixture(), sched).eval(), "exact"
    path = Path(model)
    cfg_path = path / "config.json"
    if not cfg_path.is_file():
        raise ValueError(
            f"--model {model!r} is neither 'exact' nor an mctd-train gmm2d run folder "
            f"(no {cfg_path})"
        )
    try:
        saved = json.loads(cfg_path.read_text())
        trained = Gmm2dTask.from_dict({**saved["task"], "lam": task.lam})
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{cfg_path} is not an mctd-train gmm2d config ({err})") from None
    files = sorted((path / "checkpoints").glob("ckpt-*.safetensors"), reverse=True)
    problems = []
    for f in files:
        try:
            ck = checkpoints.load(f)
        except checkpoints.CheckpointError as err:
            problems.append(str(err))
            continue
        step, tensors = ck.step, ck.tensors
        net = trained.model()
        state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        try:
            net.load_state_dict(state)
        except RuntimeError as err:
            raise ValueError(f"{f} does not fit the gmm2d MLP of {cfg_path}: {err}") from None
        return trained, net.eval(), f"{path.name}@{step}"
    why = f" ({'; '.join(problems)})" if problems else ""
    raise ValueError(f"no valid checkpoint in {path / 'checkpoints'}{why}")


class DiffusionRunner:
    """Runs the cells of a diffusion-task configuration on one loaded denoiser. Rows carry the
    method's samples (``samples_xy``, for the scatter figure); with ``save_trees`` the tree
    methods' rows also carry their tree viewer files (``mctd_eval.trees``)."""

    save_trees = False

    def __init__(self, cfg: RunConfig, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(int(threads))
        self.cfg = cfg
        self.models: dict[str, tuple[Gmm2dTask, torch.nn.Module, str]] = {}
        for name in cfg.tasks:
            params = get_task(name, cfg.task_params.get(name)).params()
            self.models[name] = load_denoiser(cfg.model, Gmm2dTask(lam=float(params["lam"])))

    def run(self, cell: Cell) -> dict[str, Any]:
        from mctd_eval.runner import base_row, clean

        task, net, label = self.models[cell.task]
        p = self.cfg.task_params[cell.task]
        kw = self.cfg.method_params.get(cell.method) or {}
        assert cell.budget is not None
        t0 = time.perf_counter()
        m = get_method(cell.method, "diffusion").run(
            task=task,
            model=net,
            nfe=int(cell.budget),
            seed=cell.seed,
            num_steps=int(p["num_steps"]),
            branch_every=int(p["branch_every"]),
            n_out=int(p["n_out"]),
            parallel=int(p["parallel"]),
            keep=True,
            **kw,
        )
        row: dict[str, Any] = {
            **base_row(cell, label, m["nfe"], m["calls"], m["wall_time"]),
            "eval_wall_s": time.perf_counter() - t0 - m["wall_time"],
            "reward": m["best_reward"],
            "best_reward": m["best_reward"],
            "mean_reward": m["mean_reward"],
            "mmd": m["mmd"],
            "swd": m["swd"],
            "coverage": m["coverage"],
            "n_samples": int(m["n"]),
        }
        from mctd_eval.samples import diffusion_extras

        row.update(diffusion_extras(cell, m["run"], self.save_trees))
        return clean(row)
