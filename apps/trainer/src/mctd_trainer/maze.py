"""The maze job: train a Diffusion Forcing maze planner (``mctd_diffusion.maze``) into a run dir.

The planner's loss is ``mctd_diffusion.maze.PlannerLoss``; the loop, Adam, EMA and checkpoints are
this app's (:func:`mctd_trainer.loop.train_loop`). The run directory holds ``config.json``
(``{"job": "maze", "arch": PlannerArch, "training": PlannerTraining}``), ``checkpoints/ckpt-*.
safetensors`` (``model.*``, ``optim.*`` and, with EMA, ``ema.*`` tensors; the architecture in the
metadata) and ``tb/``. Batches depend only on (seed, step), so a resumed run sees the batches an
uninterrupted one would. :func:`load_planner` reads such a folder, or a legacy
``planner.safetensors`` folder written by mctd-trainer < 0.4.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from mctd_tree.errors import UserError
from torch import nn

from mctd_trainer import checkpoints
from mctd_trainer.rundir import load_config, save_config

LEGACY_CKPT = "planner.safetensors"


@dataclass
class MazeResult:
    """The trained planner (eval mode; the EMA weights when kept), its step and last loss."""

    model: nn.Module
    step: int
    loss: float


def planner_config(
    maze: str,
    *,
    sparse: bool,
    steps: int,
    seed: int = 0,
    d_model: int = 64,
    n_layers: int = 4,
    n_heads: int = 4,
    checkpoint_every: int = 250,
    loss_weight: str = "v",
    relative: bool = False,
    ema: float = 0.0,
    anchor: bool = False,
    net: str = "transformer",
    token_size: int = 10,
    inpaint: str = "none",
    lr: float = 2e-3,
    unet_levels: int = 3,
    batch_size: int = 64,
    fourier: int = 0,
    data_goals: str = "junctions",
    data_oracle: str = "centre",
) -> tuple[Any, Any]:
    """(architecture, training run) of the maze benchmark (dense every=1, or sparse every=5);
    the transformer gets neighbour inputs, the U-Net (``net="unet"``, channels d_model·2^i)
    sees its neighbours through its convolutions."""
    from mctd_diffusion.maze import MAZES, PlannerArch, PlannerTraining
    from mctd_diffusion.maze.data import GOALS, ORACLES

    if maze not in MAZES:
        raise UserError(f"unknown maze {maze!r}; valid mazes: {', '.join(MAZES)}")
    if data_goals not in GOALS:
        raise UserError(f"unknown --data-goals {data_goals!r}; expected one of {', '.join(GOALS)}")
    if data_oracle not in ORACLES:
        raise UserError(
            f"unknown --data-oracle {data_oracle!r}; expected one of {', '.join(ORACLES)}"
        )
    if loss_weight not in ("x0", "v"):
        raise UserError(f"unknown loss weight {loss_weight!r}; expected 'x0' or 'v'")
    if anchor and relative:
        raise UserError("--anchor and --relative exclude each other: anchors are absolute states")
    if not 0.0 <= ema < 1.0:
        raise UserError(f"ema decay must lie in [0, 1), got {ema}")
    if net == "transformer" and d_model % n_heads:
        raise UserError(f"--heads {n_heads} does not divide --d-model {d_model}")
    try:
        arch = PlannerArch(
            maze=maze,
            every=5 if sparse else 1,
            pos_scale=4.0,
            neighbour=net == "transformer",
            d_model=d_model,
            n_layers=n_layers,
            n_heads=n_heads,
            relative=relative,
            anchor=anchor,
            net=net,
            token_size=token_size,
            inpaint=inpaint,
            unet_levels=unet_levels,
            fourier=fourier,
        )
        arch.n_tokens  # noqa: B018 (checks that the plan splits into tokens)
    except ValueError as e:
        raise UserError(str(e)) from None
    training = PlannerTraining(
        steps=steps,
        batch_size=batch_size,
        lr=lr,
        checkpoint_every=checkpoint_every,
        pyramid_frac=0.5,
        seed=seed,
        loss_weight=loss_weight,
        ema=ema,
        data_goals=data_goals,
        data_oracle=data_oracle,
    )
    return arch, training


def _init_from(model: Any, init: Path) -> None:
    """Start ``model`` from the planner in ``init``: the same architecture, or the same one
    without position features (``add_fourier_inputs``: they start at zero weight)."""
    from mctd_diffusion.maze.planner import add_fourier_inputs

    base, _, _ = load_planner(init)
    if model.fourier and not base.fourier:
        try:
            add_fourier_inputs(base, model)
        except ValueError as e:
            raise UserError(f"{init} cannot start this planner: {e}") from None
        return
    shapes = {k: v.shape for k, v in base.state_dict().items()}
    if shapes != {k: v.shape for k, v in model.state_dict().items()}:
        raise UserError(f"{init} has a different architecture")
    model.load_state_dict(base.state_dict())


def train_command(maze: str, sparse: bool, folder: Path | str) -> str:
    """The command that trains the planner folder ``folder``."""
    return f"mctd-train maze --maze {maze}{' --sparse' if sparse else ''} --out {folder}"


def resume_config(run_dir: Path, steps: int | None) -> tuple[Any, Any]:
    """(architecture, training run) saved in ``run_dir`` (``steps`` replaced when given)."""
    from mctd_diffusion.maze import PlannerArch, PlannerTraining

    saved = load_config(run_dir)
    if saved.get("job") != "maze":
        raise UserError(f"{run_dir} is a {saved.get('job')!r} run, not a maze run")
    try:
        if "arch" not in saved:
            arch = PlannerArch.from_dict(saved)
        else:
            arch = PlannerArch.from_dict(saved["arch"])
            training = PlannerTraining.from_dict(saved["training"])
    except (TypeError, ValueError, KeyError) as e:
        raise UserError(f"{run_dir / 'config.json'} is not a maze planner config ({e})") from None
    if "arch" not in saved:
        raise UserError(
            f"{run_dir} is a maze run of mctd-trainer < 0.4 ({LEGACY_CKPT}); it still loads for "
            f"evaluation but cannot be resumed: retrain it with "
            f"`{train_command(arch.maze, arch.every > 1, run_dir.with_name(run_dir.name + '-v4'))}`"
        )
    if steps is not None:
        training = replace(training, steps=steps)
    return arch, training


def reached_step(run_dir: Path) -> int:
    """The step of the newest checkpoint in ``run_dir`` (0 when there is none), read from its
    header: the resume that follows loads and verifies it once (:func:`checkpoints.latest_step`)."""
    return checkpoints.latest_step(run_dir / "checkpoints")


def train_maze(
    arch: Any,
    training: Any,
    run_dir: Path,
    *,
    resume: bool = False,
    threads: int = 1,
    init: Path | None = None,
    device: str = "cpu",
) -> MazeResult:
    """Save the config with the run, then train (or resume) the planner through the trainer's
    loop; a fresh run starts from the weights of the planner in ``init`` when given."""
    from mctd_diffusion.maze import PlannerLoss, build_model

    from mctd_trainer.ema import EMA
    from mctd_trainer.loop import LoopConfig, make_accelerator, train_loop

    accelerator = make_accelerator(device, threads)
    loss_fn = PlannerLoss(arch, training)  # checks the config, makes the dataset
    torch.manual_seed(training.seed)
    model = build_model(arch)
    if init is not None and not (resume and checkpoints.list_checkpoints(run_dir / "checkpoints")):
        _init_from(model, init)
    save_config(run_dir, {"job": "maze", "arch": arch.to_dict(), "training": training.to_dict()})
    optimizer = torch.optim.Adam(model.parameters(), lr=training.lr)
    ema = EMA(model, training.ema) if training.ema > 0 else None
    loop = LoopConfig(
        training.steps,
        training.lr,
        training.warmup,
        ckpt_every=training.checkpoint_every,
        log_every=min(50, training.checkpoint_every),
    )
    meta = {"job": "maze", "arch": arch.to_dict(), "training": training.to_dict()}
    res = train_loop(
        model,
        optimizer,
        loss_fn,
        loop,
        run_dir,
        accelerator=accelerator,
        resume=resume,
        meta=meta,
        ema=ema,
    )
    model = accelerator.unwrap_model(model)
    if ema is not None:
        model.load_state_dict(ema.shadow)
    return MazeResult(model.eval(), res.end_step, res.last_loss)


def load_planner(folder: Path | str, ema: bool = True) -> tuple[nn.Module, Any, int]:
    """(network in eval mode, ``PlannerArch``, training step) of the planner in ``folder``: its
    newest checkpoint that verifies, else a legacy ``planner.safetensors`` (``folder`` may name
    that file). The EMA weights when the run kept them and ``ema`` is true. A ValueError says
    why a folder holds no usable planner."""
    from mctd_diffusion.maze import PlannerArch, load_legacy_planner, planner_from_tensors

    path = Path(folder)
    ckpt_dir = path / "checkpoints"
    legacy = path.name == LEGACY_CKPT or (path / LEGACY_CKPT).is_file()
    if legacy and not checkpoints.list_checkpoints(ckpt_dir):
        return load_legacy_planner(path, ema)
    ck = checkpoints.load_latest(ckpt_dir)
    if ck is None:
        found = checkpoints.list_checkpoints(ckpt_dir)
        why = "none of its checkpoints verifies" if found else f"no {ckpt_dir}"
        raise UserError(f"{path} holds no maze planner ({why})")
    if ck.meta.get("job") != "maze" or "arch" not in ck.meta:
        raise UserError(f"{ck.path} is a {ck.meta.get('job')!r} checkpoint, not a maze planner")
    arch = PlannerArch.from_dict(ck.meta["arch"])
    return planner_from_tensors(ck.tensors, arch, ema), arch, ck.step
