"""The gmm2d job: train an MLP epsilon-denoiser on exact draws of the 25-mode grid mixture."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mctd_diffusion import DenoisingProblem, ancestral, diffusion_loss
from mctd_diffusion.tasks.gmm2d import Gmm2dTask, evaluate
from mctd_tree.errors import IntegrityError, UserError
from mctd_tree.files import write_json
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from mctd_trainer import checkpoints
from mctd_trainer.loop import LoopConfig, make_accelerator, train_loop
from mctd_trainer.rundir import load_config, save_config


@dataclass
class Gmm2dConfig:
    """The resolved config saved as ``config.json`` with the run."""

    steps: int = 4000
    batch_size: int = 512
    lr: float = 2e-3
    warmup: int = 100
    seed: int = 0
    ckpt_every: int = 500
    log_every: int = 50
    keep: int = 3
    eval_samples: int = 2000
    eval_steps: int = 50
    task: dict[str, Any] = field(default_factory=lambda: Gmm2dTask().to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Gmm2dConfig:
        """The config saved in a run's ``config.json``; `UserError` if it is not a gmm2d one."""
        if d.get("job", "gmm2d") != "gmm2d":
            raise UserError(f"this is a {d.get('job')!r} run, not a gmm2d run")
        cfg = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        cfg.check()
        return cfg

    def check(self) -> None:
        """`UserError` naming the first bad field (before anything is written)."""
        for name in ("steps", "batch_size", "ckpt_every", "log_every", "eval_samples"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"{name} must be an integer >= 1, got {v!r}")
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < float("inf"):
            raise UserError(f"lr must be a finite number > 0, got {lr!r}")
        try:
            Gmm2dTask.from_dict(self.task)
        except (TypeError, ValueError, AttributeError) as e:
            raise UserError(f"task {self.task!r} is not a gmm2d task ({e})") from None


def train_gmm2d(
    cfg: Gmm2dConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu", threads: int = 1
) -> dict[str, Any]:
    """Train (or resume), then evaluate samples against the true mixture; returns the metrics."""
    task = Gmm2dTask.from_dict(cfg.task)
    save_config(run_dir, {"job": "gmm2d", **asdict(cfg)})
    torch.manual_seed(cfg.seed)
    model = task.model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.0)
    sched = task.scheduler()
    accelerator = make_accelerator(device, threads)
    rank = accelerator.process_index

    def loss_fn(net: nn.Module, step: int, dev: torch.device) -> torch.Tensor:
        g = torch.Generator().manual_seed(step_seed(cfg.seed, step, rank))
        x0 = task.batch(cfg.batch_size, g).to(dev)
        return diffusion_loss(net, sched, x0, generator=g)

    loop = LoopConfig(
        cfg.steps,
        cfg.lr,
        cfg.warmup,
        ckpt_every=cfg.ckpt_every,
        log_every=cfg.log_every,
        keep=cfg.keep,
    )
    res = train_loop(
        model,
        optimizer,
        loss_fn,
        loop,
        run_dir,
        accelerator=accelerator,
        resume=resume,
        meta={"job": "gmm2d", "task": task.to_dict()},
    )
    if not accelerator.is_main_process:
        return {}
    metrics = evaluate_model(accelerator.unwrap_model(model).cpu(), task, cfg, cfg.seed)
    metrics.update(start_step=res.start_step, end_step=res.end_step, last_loss=res.last_loss)
    write_json(run_dir / "eval.json", metrics)
    with SummaryWriter(str(run_dir / "tb")) as w:
        w.add_scalar("eval/mmd_to_prior", metrics["mmd"], res.end_step)
    accelerator.print(f"gmm2d: MMD to the true mixture {metrics['mmd']:.4f} (bandwidth 0.5)")
    return metrics


def step_seed(seed: int, step: int, rank: int) -> int:
    """The data seed of one step on one process: a function of (seed, step, rank) only."""
    return int(np.random.SeedSequence([seed, step, rank]).generate_state(1, np.uint64)[0] >> 1)


def evaluate_model(
    model: nn.Module, task: Gmm2dTask, cfg: Gmm2dConfig, seed: int
) -> dict[str, Any]:
    """Draw samples with stochastic DDIM (eta=1) and compare them to the true mixture."""
    problem = DenoisingProblem(
        model,
        task.scheduler(),
        task.reward(),
        sample_shape=(2,),
        num_steps=cfg.eval_steps,
        branch_every=cfg.eval_steps,
    )
    states, rewards = ancestral(problem, cfg.eval_samples, seed)
    return evaluate(problem.to_array(states), task.mixture(), rewards, seed)


def load_gmm2d(run_dir: Path) -> tuple[Gmm2dTask, nn.Module, int]:
    """(task, trained model in eval mode, step) from a run's config and newest good checkpoint."""
    cfg = Gmm2dConfig.from_dict(load_config(run_dir))
    task = Gmm2dTask.from_dict(cfg.task)
    ck = checkpoints.load_latest(run_dir / "checkpoints")
    if ck is None:
        raise IntegrityError(f"no valid checkpoint in {run_dir / 'checkpoints'}")
    model = task.model()
    model.load_state_dict({k[6:]: v for k, v in ck.tensors.items() if k.startswith("model.")})
    return task, model.eval(), ck.step
