"""A resumable training loop: Accelerate, tqdm, TensorBoard scalars, atomic checkpoints.

The batch of step s must depend only on (seed, s, process) (``loss_fn(model, s, device)``), so a
run killed after checkpoint k and resumed from it replays steps k+1.. exactly as an uninterrupted
run would: no completed (checkpointed) step is lost or repeated.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from mctd_tree.errors import UserError
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from mctd_trainer import checkpoints
from mctd_trainer.ema import EMA
from mctd_trainer.state import pack, unpack

LossFn = Callable[[nn.Module, int, torch.device], torch.Tensor]
EvalFn = Callable[[nn.Module, int], dict[str, float]]


class DivergedError(UserError):
    """Training produced a non-finite loss or non-finite weights (stopped; last good checkpoint
    kept)."""


DEVICES = ("cpu", "cuda", "auto")


def check_device(device: str) -> None:
    """`UserError` unless ``device`` is cpu, auto, or cuda with a CUDA device present."""
    if device not in DEVICES:
        raise UserError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' requested but no CUDA device is available")


@dataclass
class LoopConfig:
    """Steps, learning-rate schedule (linear warmup, cosine to ``lr * min_lr_frac``), cadences."""

    steps: int
    lr: float = 2e-3
    warmup: int = 100
    min_lr_frac: float = 0.1
    grad_clip: float = 1.0
    ckpt_every: int = 500
    log_every: int = 50
    keep: int = 3

    def __post_init__(self) -> None:
        for name in ("steps", "ckpt_every", "log_every"):
            if getattr(self, name) < 1:
                raise UserError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise UserError(f"the learning rate must be a finite number > 0, got {self.lr}")

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        frac = (step - self.warmup) / max(self.steps - self.warmup, 1)
        cos = 0.5 * (1 + math.cos(math.pi * min(frac, 1.0)))
        return self.lr * (self.min_lr_frac + (1 - self.min_lr_frac) * cos)


@dataclass
class LoopResult:
    """Where the run started (0, or the checkpoint it resumed from) and where it stopped."""

    start_step: int
    end_step: int
    last_loss: float


def make_accelerator(device: str, threads: int = 1) -> Accelerator:
    """``cpu`` (default): one CPU process; ``cuda``: needs a GPU; ``auto``: Accelerate decides.

    ``threads`` sets torch's intra-op CPU threads (0 keeps torch's default): small models on a
    shared CPU run far faster single-threaded.
    """
    check_device(device)
    if threads:
        torch.set_num_threads(threads)
    return Accelerator(cpu=device == "cpu")


def train_loop(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: LossFn,
    cfg: LoopConfig,
    run_dir: Path,
    *,
    accelerator: Accelerator,
    resume: bool = False,
    meta: dict[str, Any] | None = None,
    evaluate: EvalFn | None = None,
    ema: EMA | None = None,
) -> LoopResult:
    """Train ``model`` to ``cfg.steps``, resuming from the newest good checkpoint if asked.

    ``evaluate(model, step)``: scalars logged to TensorBoard at every checkpoint (optional).
    ``ema`` (built on ``model``) is updated after every step and saved with the checkpoints.
    """
    ckpt_dir = run_dir / "checkpoints"
    start = 0
    if resume:
        ck = checkpoints.load_latest(ckpt_dir)
        if ck is None and checkpoints.list_checkpoints(ckpt_dir):
            raise checkpoints.CheckpointError(f"no checkpoint in {ckpt_dir} passes verification")
        if ck is not None:
            unpack(ck.tensors, model, optimizer)
            if ema is not None:
                ema.load(ck.tensors)
            start = ck.step
            accelerator.print(f"resuming from {ck.path.name} (step {start})")
    model, optimizer = accelerator.prepare(model, optimizer)
    main = accelerator.is_main_process
    writer = SummaryWriter(str(run_dir / "tb"), purge_step=start or None) if main else None
    loss_val = math.nan
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not main)
    for step in bar:
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        model.train()
        loss = loss_fn(model, step, accelerator.device)
        loss_val = float(loss.detach())
        if not math.isfinite(loss_val):
            _diverged(f"the loss is {loss_val} at step {step + 1}", ckpt_dir, cfg)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if cfg.grad_clip:
            accelerator.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        if ema is not None:
            ema.update(accelerator.unwrap_model(model), step)
        done = step + 1
        if writer is not None and (done % cfg.log_every == 0 or done == cfg.steps):
            writer.add_scalar("train/loss", loss_val, done)
            writer.add_scalar("train/lr", cfg.lr_at(step), done)
            bar.set_postfix(loss=f"{loss_val:.4f}")
        if done % cfg.ckpt_every == 0 or done == cfg.steps:
            accelerator.wait_for_everyone()
            raw = accelerator.unwrap_model(model)
            if not all(bool(torch.isfinite(p).all()) for p in raw.parameters()):
                _diverged(f"the weights are not finite after step {done}", ckpt_dir, cfg)
            if main:
                if evaluate is not None and writer is not None:
                    for name, value in evaluate(raw, done).items():
                        writer.add_scalar(name, value, done)
                tensors = pack(raw, optimizer) | (ema.state() if ema is not None else {})
                checkpoints.save(ckpt_dir, done, tensors, meta or {}, cfg.keep)
    if writer is not None:
        writer.close()
    return LoopResult(start, cfg.steps, loss_val)


def _diverged(what: str, ckpt_dir: Path, cfg: LoopConfig) -> None:
    last = checkpoints.list_checkpoints(ckpt_dir)
    kept = f"the last good checkpoint {last[-1].name} is kept" if last else "no checkpoint kept"
    raise DivergedError(
        f"training diverged: {what}; stopped ({kept}); try a lower learning rate than {cfg.lr}"
    )
