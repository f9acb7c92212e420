"""``mctd-train``: one subcommand per model (``gmm2d``, ``maze``, ``mor``, ``thought``, ``vae``,
``unet``, ``classifier``) and ``corpus``.

Errors: a `mctd_tree.errors.UserError` (bad option, foreign or locked run directory, corrupt
checkpoint, diverged training) is one line and exit 2; anything else is a bug: exit 70, with the
traceback saved to the run directory. Every option is checked before the run directory is touched.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from mctd_tree.errors import UserError, float_option, int_option

from mctd_trainer import checkpoints
from mctd_trainer.corpus_cli import corpus
from mctd_trainer.digits_cli import classifier, unet, vae
from mctd_trainer.guard import check_fresh
from mctd_trainer.guard import check_out as _check_out
from mctd_trainer.guard import check_steps as _check_steps
from mctd_trainer.guard import errors as _errors
from mctd_trainer.mor_cli import mor
from mctd_trainer.rundir import load_config, locked, new_run_dir
from mctd_trainer.thought_cli import thought

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


app.command()(corpus)
app.command()(mor)
app.command()(thought)
app.command()(vae)
app.command()(unet)
app.command()(classifier)


@app.callback()
def main() -> None:
    """Train the models that mctd searches run on."""


@app.command()
def gmm2d(
    steps: Annotated[
        int | None, typer.Option(parser=int_option(1), help="Total optimizer steps.")
    ] = None,
    seed: Annotated[int, typer.Option(parser=int_option(), help="Seed of init and data.")] = 0,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-gmm2d).")
    ] = None,
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest good checkpoint in --out.")
    ] = False,
    device: Annotated[str, typer.Option(help="cpu (default), cuda or auto.")] = "cpu",
    threads: Annotated[
        int, typer.Option(parser=int_option(0), help="torch CPU threads (0: torch default).")
    ] = 1,
    batch_size: Annotated[int, typer.Option(parser=int_option(1))] = 512,
    lr: Annotated[
        float, typer.Option(parser=float_option(), help="Peak learning rate (finite, > 0).")
    ] = 2e-3,
    ckpt_every: Annotated[int, typer.Option(parser=int_option(1))] = 500,
    eval_samples: Annotated[
        int, typer.Option(parser=int_option(1), help="Samples for the final MMD.")
    ] = 2000,
) -> None:
    """Train the MLP denoiser of the 25-mode 2-D mixture and report its MMD to the true mixture."""
    from mctd_trainer.gmm2d import Gmm2dConfig, train_gmm2d
    from mctd_trainer.loop import check_device

    where: list[Path] = []
    with _errors("mctd-train gmm2d", where):
        check_device(device)
        if not (math.isfinite(lr) and lr > 0):
            raise UserError(f"--lr must be a finite number > 0, got {lr}")
        _check_out(out, resume)
        run_dir = out or new_run_dir("gmm2d")
        with locked(run_dir, "mctd-train gmm2d"):
            where.append(run_dir)
            if resume:
                cfg = Gmm2dConfig.from_dict(load_config(run_dir))
                ck = checkpoints.load_latest(run_dir / "checkpoints")
                if ck is None and checkpoints.list_checkpoints(run_dir / "checkpoints"):
                    raise checkpoints.CheckpointError(
                        f"no checkpoint in {run_dir / 'checkpoints'} passes verification"
                    )
                _check_steps(steps, ck.step if ck else 0)
                if steps is not None:
                    cfg.steps = steps
            else:
                check_fresh(run_dir)
                cfg = Gmm2dConfig(
                    steps=steps or Gmm2dConfig.steps,
                    seed=seed,
                    batch_size=batch_size,
                    lr=lr,
                    ckpt_every=ckpt_every,
                    eval_samples=eval_samples,
                )
                cfg.check()
            train_gmm2d(cfg, run_dir, resume=resume, device=device, threads=threads)
    typer.echo(f"run directory: {run_dir}")


@app.command()
def maze(
    maze: Annotated[str, typer.Option(help="Maze: medium, large or giant.")] = "medium",
    sparse: Annotated[
        bool, typer.Option(help="Sparse planner (stride H = 5) instead of dense.")
    ] = False,
    steps: Annotated[
        int | None, typer.Option(parser=int_option(1), help="Total optimizer steps.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-maze-<maze>).")
    ] = None,
    seed: Annotated[int, typer.Option(parser=int_option(), help="Seed of init and batches.")] = 0,
    threads: Annotated[
        int, typer.Option(parser=int_option(0), help="torch CPU threads (0: torch default).")
    ] = 1,
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest good checkpoint in --out.")
    ] = False,
    ckpt_every: Annotated[
        int, typer.Option(parser=int_option(1), help="Checkpoint (and log) every N.")
    ] = 250,
    d_model: Annotated[
        int, typer.Option(parser=int_option(1), help="Transformer width (U-Net: base channels).")
    ] = 64,
    layers: Annotated[int, typer.Option(parser=int_option(1), help="Transformer layers.")] = 4,
    heads: Annotated[
        int, typer.Option(parser=int_option(1), help="Attention heads (divide --d-model).")
    ] = 4,
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
        float,
        typer.Option(parser=float_option(0.0, 0.9999), help="EMA decay of the weights (0: none)."),
    ] = 0.0,
    init: Annotated[
        Path | None, typer.Option(help="Planner dir or file whose weights start a fresh run.")
    ] = None,
    net: Annotated[
        str, typer.Option(help="Denoiser: transformer, or unet (Diffuser's temporal U-Net).")
    ] = "transformer",
    token_size: Annotated[
        int, typer.Option(parser=int_option(1), help="Plan states per token.")
    ] = 10,
    inpaint: Annotated[
        str, typer.Option(help="Inpainted states: none, start, or start_goal (Diffuser-style).")
    ] = "none",
    lr: Annotated[
        float, typer.Option(parser=float_option(), help="Peak learning rate (finite, > 0).")
    ] = 2e-3,
    unet_levels: Annotated[
        int, typer.Option(parser=int_option(1), help="U-Net resolutions (channels d·2^i).")
    ] = 3,
    batch_size: Annotated[
        int, typer.Option(parser=int_option(1), help="Training windows per step.")
    ] = 64,
    fourier: Annotated[
        int,
        typer.Option(parser=int_option(0), help="Octaves of sin/cos position features (0: none)."),
    ] = 0,
    data_goals: Annotated[
        str, typer.Option(help="Goal cells of the training data: junctions, or cells (any free).")
    ] = "junctions",
    data_oracle: Annotated[
        str,
        typer.Option(help="Data oracle's target: centre (next cell's), or doorway (centre line)."),
    ] = "centre",
) -> None:
    """Train the Diffusion Forcing planner of a point maze (for MCTD / Fast-MCTD planning)."""
    from mctd_trainer.maze import planner_config, reached_step, resume_config, train_maze

    where: list[Path] = []
    with _errors("mctd-train maze", where):
        _check_out(out, resume)
        if init is not None and not init.exists():
            raise UserError(f"--init {init} does not exist")
        if not resume:
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
                net=net,
                token_size=token_size,
                inpaint=inpaint,
                lr=lr,
                unet_levels=unet_levels,
                batch_size=batch_size,
                fourier=fourier,
                data_goals=data_goals,
                data_oracle=data_oracle,
            )
        run_dir = out or new_run_dir(f"maze-{maze}")
        with locked(run_dir, "mctd-train maze"):
            where.append(run_dir)
            if resume:
                arch, training = resume_config(run_dir, steps)
                _check_steps(steps, reached_step(run_dir))
            else:
                check_fresh(run_dir)
            res = train_maze(arch, training, run_dir, resume=resume, threads=threads, init=init)
    typer.echo(f"maze {arch.maze} every={arch.every}: step {res.step}, loss {res.loss:.5f}")
    typer.echo(f"run directory: {run_dir}")


if __name__ == "__main__":
    app()
