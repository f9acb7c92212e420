"""Image tasks (digits): their models (``--model DIR``), their cells.

``--model DIR`` is a folder of ``mctd-train`` run folders: ``DIR/vae`` (``mctd-train vae``),
``DIR/unet`` (``mctd-train unet``, a vanilla or MoR UNet trained on that VAE's latents) and
``DIR/clf`` (``mctd-train classifier``); the task parameters ``vae``, ``unet`` and
``classifier`` rename them (an absolute path is used as it is). A missing, unreadable or foreign
run, or a VAE whose latent shape is not the UNet's, is a `UserError` naming the path and the
``mctd-train`` command that makes it, raised before the run directory is written.

A cell runs one method (``mctd_diffusion.methods``' sampler, bound in
``mctd_eval.methods.IMAGE_METHODS``) at the cell's NFE budget and scores its samples with
``mctd_diffusion.images.metrics.score_latents``. NFE = UNet evaluations per batch element (a
reward-guided or classifier-free-guided call counts 2); ``flops`` = the UNet's FLOPs as run.
Rows carry the decoded samples (``digit_images``, 8x8 pixels rounded to 2 decimals) for the
image grids of ``figures.write_digit_grids``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mctd_tree.errors import UserError

from mctd_eval.config import Cell, RunConfig
from mctd_eval.figures import DIGIT_IMAGES_KEY
from mctd_eval.methods import get_method
from mctd_eval.tasks import get_task
from mctd_eval.tasks.digits import DigitsEvalTask


def train_command(kind: str, path: Path, vae: Path) -> str:
    """The ``mctd-train`` command that writes a ``kind`` run to ``path``."""
    extra = f" --vae {vae}" if kind == "unet" else ""
    return f"mctd-train {kind} --data digits{extra} --out {path}"


def run_path(model: str, folder: str) -> Path:
    """``folder`` relative to ``--model`` (an absolute ``folder`` as it is)."""
    path = Path(folder)
    if path.is_absolute():
        return path
    if model == "default":
        raise UserError(
            "the digits task needs --model DIR, a folder holding the run folders DIR/vae, "
            "DIR/unet and DIR/clf written by `mctd-train vae|unet|classifier --data digits`"
        )
    return Path(model) / path


def load_run(kind: str, path: Path, vae: Path) -> tuple[torch.nn.Module, str]:
    """(model in eval mode, label ``<folder>@<step>``) of a digits ``kind`` run; a `UserError`
    naming the path and the training command when it is missing, unreadable or another kind."""
    from mctd_trainer.digits import load_digits_model

    hint = f"train it with `{train_command(kind, path, vae)}`"
    if not path.is_dir():
        raise UserError(f"no digits {kind} run at {path} (not a folder); {hint}")
    try:
        model, _, step = load_digits_model(path, kind)
    except Exception as err:  # missing config, foreign run, bad checkpoint: several types
        raise UserError(f"{path} is not a usable digits {kind} run ({err}); {hint}") from None
    return model, f"{path.name}@{step}"


class DigitsModels:
    """The VAE, UNet and classifier of one digits task, checked against each other."""

    def __init__(self, model: str, task: DigitsEvalTask) -> None:
        from mctd_diffusion.images import check_latent_match, load_digits_split

        vae_dir = run_path(model, task.vae)
        self.vae, vae_label = load_run("vae", vae_dir, vae_dir)
        self.unet, unet_label = load_run("unet", run_path(model, task.unet), vae_dir)
        self.clf, clf_label = load_run("classifier", run_path(model, task.classifier), vae_dir)
        try:
            check_latent_match(self.vae.latent_shape, self.unet)  # type: ignore[arg-type]
        except UserError as err:
            raise UserError(
                f"{err} (VAE {vae_dir}, UNet {run_path(model, task.unet)}): retrain with "
                f"`{train_command('unet', run_path(model, task.unet), vae_dir)}`"
            ) from None
        if not getattr(self.unet, "cond_dim", 0):
            raise UserError(f"the UNet {unet_label} has no class input; the digits task needs one")
        self.label = f"{vae_label}+{unet_label}+{clf_label}"
        data = load_digits_split()
        self.real = data.x_val[data.y_val == task.target]

    def problem(self, task: DigitsEvalTask) -> Any:
        """The denoising problem: "no class" sampling, reward log p(target | decode(z))."""
        from mctd_diffusion import DenoisingProblem, make_scheduler
        from mctd_diffusion.images import ClassReward

        sched = make_scheduler("ddim", num_train_timesteps=1000, eta=1.0)
        k = int(self.unet.cond_dim)  # type: ignore[arg-type]
        return DenoisingProblem(
            self.unet,
            sched,
            ClassReward(self.vae, self.clf, task.target),  # type: ignore[arg-type]
            sample_shape=self.vae.latent_shape,  # type: ignore[arg-type]
            num_steps=task.num_steps,
            branch_every=task.branch_every,
            cond=torch.zeros(1, k),
            guide_cond=torch.eye(k)[task.target : task.target + 1],
        )


def check_params(method_params: dict[str, dict[str, Any]]) -> None:
    """`UserError` for method parameters out of range (before anything is written): the
    complexity budget (> 0) of fast_mctd, the guidance scale (>= 0) of cfg."""
    from mctd_diffusion.complexity import check_budget

    if "complexity" in (method_params.get("fast_mctd") or {}):
        check_budget(method_params["fast_mctd"]["complexity"])
    scale = (method_params.get("cfg") or {}).get("scale", 0.0)
    if scale < 0:
        raise UserError(f"cfg.scale (the classifier-free guidance scale) must be >= 0, got {scale}")


class DigitsRunner:
    """Runs the cells of an image-task configuration on its loaded models."""

    save_trees = False

    def __init__(self, cfg: RunConfig, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(int(threads))
        self.cfg = cfg
        check_params(cfg.method_params)
        self.tasks: dict[str, DigitsEvalTask] = {}
        self.models: dict[str, DigitsModels] = {}
        for name in cfg.tasks:
            task = get_task(name, cfg.task_params.get(name))
            assert isinstance(task, DigitsEvalTask)
            self.tasks[name], self.models[name] = task, DigitsModels(cfg.model, task)

    def run(self, cell: Cell) -> dict[str, Any]:
        from mctd_diffusion.images.metrics import score_latents
        from mctd_diffusion.methods import run_method

        from mctd_eval.runner import base_row, clean

        task, models = self.tasks[cell.task], self.models[cell.task]
        assert cell.budget is not None
        params = self.cfg.method_params.get(cell.method) or {}
        torch.manual_seed(cell.seed)
        problem = models.problem(task)
        t0 = time.perf_counter()
        run = run_method(
            get_method(cell.method, "image").run,
            problem,
            int(cell.budget),
            lam=task.lam,
            n_out=task.n_out,
            seed=cell.seed,
            parallel=task.parallel,
            **params,
        )
        m = score_latents(run.samples, models.vae, models.clf, task.target, models.real)  # type: ignore[arg-type]
        with torch.no_grad():
            images = models.vae.from_latent(torch.from_numpy(run.samples))  # type: ignore[operator]
        row: dict[str, Any] = {
            **base_row(cell, models.label, run.nfe, run.calls, run.wall_time),
            "eval_wall_s": time.perf_counter() - t0 - run.wall_time,
            "reward": run.best_reward,
            "best_reward": run.best_reward,
            "flops": float(run.flops),
            "mflops": run.flops / 1e6,
            "n_samples": len(run.samples),
            **m,
            DIGIT_IMAGES_KEY: np.round(images[:, 0].numpy(), 2).tolist(),
        }
        return clean(row)
