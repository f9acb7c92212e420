"""The maze job: train a Diffusion Forcing maze planner (``mctd_diffusion.maze``) into a run dir.

The run directory holds ``config.json`` (``{"job": "maze", **PlannerConfig}``) and
``planner.safetensors`` (model + Adam moments; config, step and loss history in its metadata),
written by :func:`mctd_diffusion.maze.train_planner`. Batches depend only on (seed, step), so a
resumed run sees the batches an uninterrupted one would.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from mctd_tree.errors import UserError

from mctd_trainer.rundir import load_config, save_config


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
) -> Any:
    """The trained config of the maze benchmark (dense every=1, or sparse every=5)."""
    from mctd_diffusion.maze import MAZES, PlannerConfig

    if maze not in MAZES:
        raise UserError(f"unknown maze {maze!r}; valid mazes: {', '.join(MAZES)}")
    if loss_weight not in ("x0", "v"):
        raise UserError(f"unknown loss weight {loss_weight!r}; expected 'x0' or 'v'")
    if anchor and relative:
        raise UserError("--anchor and --relative exclude each other: anchors are absolute states")
    if not 0.0 <= ema < 1.0:
        raise UserError(f"ema decay must lie in [0, 1), got {ema}")
    if d_model % n_heads:
        raise UserError(f"--heads {n_heads} does not divide --d-model {d_model}")
    return PlannerConfig(
        maze=maze,
        every=5 if sparse else 1,
        steps=steps,
        batch_size=64,
        lr=2e-3,
        checkpoint_every=checkpoint_every,
        pos_scale=4.0,
        pyramid_frac=0.5,
        neighbour=True,
        seed=seed,
        d_model=d_model,
        n_layers=n_layers,
        n_heads=n_heads,
        loss_weight=loss_weight,
        relative=relative,
        ema=ema,
        anchor=anchor,
    )


def resume_config(run_dir: Path, steps: int | None) -> Any:
    """The config saved in ``run_dir`` (``steps`` replaced when given)."""
    from mctd_diffusion.maze import PlannerConfig

    saved = load_config(run_dir)
    if saved.get("job") != "maze":
        raise UserError(f"{run_dir} is a {saved.get('job')!r} run, not a maze run")
    try:
        cfg = PlannerConfig.from_dict(saved)
    except (TypeError, ValueError, KeyError) as e:
        raise UserError(f"{run_dir / 'config.json'} is not a maze planner config ({e})") from None
    return replace(cfg, steps=steps) if steps is not None else cfg


def reached_step(run_dir: Path) -> int:
    """The step of the planner saved in ``run_dir`` (0 when there is none); verified on load."""
    from mctd_diffusion.maze.train import CKPT, load_planner

    return load_planner(run_dir / CKPT)[2] if (run_dir / CKPT).exists() else 0


def train_maze(
    cfg: Any, run_dir: Path, *, resume: bool = False, threads: int = 1, init: Path | None = None
) -> Any:
    """Save the config with the run, then train (or resume) the planner, a fresh run starting
    from the weights of the planner in ``init`` when given; a ``TrainResult``."""
    import torch
    from mctd_diffusion.maze import train_planner
    from mctd_diffusion.maze.train import CKPT

    if threads:
        torch.set_num_threads(threads)
    ckpt = run_dir / CKPT
    if resume and ckpt.exists():
        from mctd_diffusion.maze import load_planner

        _, _, done = load_planner(ckpt)
        print(f"resuming from {CKPT} (step {done})", flush=True)
    save_config(run_dir, {"job": "maze", **cfg.to_dict()})
    return train_planner(cfg, run_dir, resume=resume, init=init, log=lambda s: print(s, flush=True))
