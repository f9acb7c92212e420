"""``mctd-train``: one subcommand per model (``gmm2d``, ``maze``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mctd_trainer import checkpoints
from mctd_trainer.rundir import load_config, new_run_dir

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


@app.callback()
def main() -> None:
    """Train the models that mctd searches run on."""


@app.command()
def gmm2d(
    steps: Annotated[int | None, typer.Option(min=1, help="Total optimizer steps.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of init and data.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-gmm2d).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest good checkpoint in --out.")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu (default), cuda or auto.")] = "cpu",
    threads: Annotated[int, typer.Option(min=0, help="torch CPU threads (0: torch default).")] = 1,
    batch_size: Annotated[int, typer.Option(min=1)] = 512,
    lr: Annotated[float, typer.Option(min=0.0)] = 2e-3,
    ckpt_every: Annotated[int, typer.Option(min=1)] = 500,
    eval_samples: Annotated[int, typer.Option(min=1, help="Samples for the final MMD.")] = 2000,
) -> None:
    """Train the MLP denoiser of the 25-mode 2-D mixture and report its MMD to the true mixture."""
    from mctd_trainer.gmm2d import Gmm2dConfig, train_gmm2d

    if resume:
        if out is None:
            raise typer.BadParameter("--resume needs --out RUN_DIR", param_hint="--out")
        cfg = Gmm2dConfig.from_dict(load_config(out))
        if steps is not None:
            cfg.steps = steps
    else:
        if out is not None and checkpoints.list_checkpoints(out / "checkpoints"):
            raise typer.BadParameter(
                f"{out} already holds checkpoints; pass --resume", param_hint="--out"
            )
        cfg = Gmm2dConfig(
            steps=steps or Gmm2dConfig.steps,
            seed=seed,
            batch_size=batch_size,
            lr=lr,
            ckpt_every=ckpt_every,
            eval_samples=eval_samples,
        )
    run_dir = out or new_run_dir("gmm2d")
    try:
        train_gmm2d(cfg, run_dir, resume=resume, device=device, threads=threads)
    except (ValueError, checkpoints.CheckpointError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"run directory: {run_dir}")


@app.command()
def maze(
    maze: Annotated[str, typer.Option(help="Maze: medium, large or giant.")] = "medium",
    sparse: Annotated[
        bool, typer.Option(help="Sparse planner (stride H = 5) instead of dense.")
    ] = False,
    steps: Annotated[int | None, typer.Option(min=1, help="Total optimizer steps.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-maze-<maze>).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of init and batches.")] = 0,
    threads: Annotated[int, typer.Option(min=0, help="torch CPU threads (0: torch default).")] = 1,
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest good checkpoint in --out.")
    ] = False,
    ckpt_every: Annotated[int, typer.Option(min=1, help="Checkpoint (and log) every N.")] = 250,
    d_model: Annotated[int, typer.Option(min=1, help="Transformer width.")] = 64,
    layers: Annotated[int, typer.Option(min=1, help="Transformer layers.")] = 4,
    heads: Annotated[int, typer.Option(min=1, help="Attention heads (divide --d-model).")] = 4,
    loss_weight: Annotated[
        str, typer.Option(help="x0: plain x0 error; v: x0 error / (1 - abar) (recommended).")
    ] = "v",
    relative: Annotated[
        bool, typer.Option(help="Plan tokens as offsets from the start state.")
    ] = False,
    anchor: Annotated[
        bool, typer.Option(help="Predict each token as an offset from its left neighbour.")
    ] = False,
    ema: Annotated[
        float, typer.Option(min=0.0, max=0.9999, help="EMA decay of the weights (0: none).")
    ] = 0.0,
    init: Annotated[
        Path | None, typer.Option(help="Planner dir or file whose weights start a fresh run.")
    ] = None,
) -> None:
    """Train the Diffusion Forcing planner of a point maze (for MCTD / Fast-MCTD planning)."""
    from mctd_trainer.maze import planner_config, resume_config, train_maze

    try:
        if resume:
            if out is None:
                raise typer.BadParameter("--resume needs --out RUN_DIR", param_hint="--out")
            arch, training = resume_config(out, steps)
        else:
            if out is not None and checkpoints.list_checkpoints(out / "checkpoints"):
                raise typer.BadParameter(
                    f"{out} already holds checkpoints; pass --resume", param_hint="--out"
                )
            arch, training = planner_config(
                maze,
                sparse=sparse,
                steps=steps or 3000,
                seed=seed,
                d_model=d_model,
                n_layers=layers,
                n_heads=heads,
                checkpoint_every=ckpt_every,
                loss_weight=loss_weight,
                relative=relative,
                ema=ema,
                anchor=anchor,
            )
    except (ValueError, FileNotFoundError) as e:
        hint = "--maze" if "unknown maze" in str(e) else "--out"
        hint = "--loss-weight" if "loss weight" in str(e) else hint
        raise typer.BadParameter(str(e), param_hint=hint) from e
    run_dir = out or new_run_dir(f"maze-{arch.maze}")
    try:
        res = train_maze(arch, training, run_dir, resume=resume, threads=threads, init=init)
    except (ValueError, FileNotFoundError, checkpoints.CheckpointError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from e
    typer.echo(f"maze {arch.maze} every={arch.every}: step {res.step}, loss {res.loss:.5f}")
    typer.echo(f"run directory: {run_dir}")


if __name__ == "__main__":
    app()
