"""``mctd-train vae|unet|classifier --data digits``: the latent image diffusion models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from mctd_tree.errors import UserError, float_option, int_option

Out = Annotated[
    Path | None, typer.Option(help="Run directory (default runs/<time>-digits-<kind>).")
]
Steps = Annotated[int | None, typer.Option(parser=int_option(1), help="Total optimizer steps.")]
Data = Annotated[str, typer.Option(help="Data set: digits (scikit-learn, 8x8).")]
Resume = Annotated[bool, typer.Option(help="Continue from the newest good checkpoint in --out.")]
Seed = Annotated[int, typer.Option(parser=int_option(), help="Seed of init and batches.")]
Threads = Annotated[int, typer.Option(parser=int_option(0), help="torch CPU threads (0: default).")]
Device = Annotated[str, typer.Option(help="cpu (default), cuda or auto.")]
Batch = Annotated[int, typer.Option(parser=int_option(1))]
Lr = Annotated[float | None, typer.Option(parser=float_option(), help="Peak learning rate.")]
Every = Annotated[int, typer.Option(parser=int_option(1), help="Checkpoint every N steps.")]


def vae(
    data: Data = "digits",
    steps: Steps = None,
    out: Out = None,
    resume: Resume = False,
    seed: Seed = 0,
    threads: Threads = 1,
    device: Device = "cpu",
    batch_size: Batch = 64,
    lr: Lr = None,
    ckpt_every: Every = 250,
    latent_channels: Annotated[int, typer.Option(parser=int_option(1))] = 2,
    beta: Annotated[float, typer.Option(parser=float_option(0.0), help="KL weight.")] = 0.05,
) -> None:
    """Train the digits VAE (8x8 images <-> (C, 4, 4) latents); reports validation RMSE."""
    _run(
        "vae",
        data,
        steps,
        out,
        resume,
        seed,
        threads,
        device,
        batch_size,
        lr,
        ckpt_every,
        {"arch": {"latent_channels": latent_channels}, "beta": beta},
    )


def unet(
    data: Data = "digits",
    steps: Steps = None,
    out: Out = None,
    resume: Resume = False,
    seed: Seed = 0,
    threads: Threads = 1,
    device: Device = "cpu",
    batch_size: Batch = 64,
    lr: Lr = None,
    ckpt_every: Every = 250,
    vae: Annotated[Path | None, typer.Option(help="The finished `mctd-train vae` run.")] = None,
    label_drop: Annotated[
        float, typer.Option(parser=float_option(0.0, 0.99), help="P(no class) for CFG.")
    ] = 0.1,
    mor_nr: Annotated[
        int, typer.Option(parser=int_option(0), help="MoR UNet: shared middle applied N_r times.")
    ] = 0,
    capacity: Annotated[
        float, typer.Option(parser=float_option(), help="MoR UNet: cells kept per recursion.")
    ] = 1.0,
) -> None:
    """Train the class-conditional latent UNet denoiser (or, with --mor-nr, the MoR UNet)."""
    extra: dict[str, object] = {
        "vae_run": None if vae is None else str(vae),
        "label_drop": label_drop,
    }
    if mor_nr:
        extra["arch"] = {"n_recursion": mor_nr, "capacity": capacity}
    _run("unet", data, steps, out, resume, seed, threads, device, batch_size, lr, ckpt_every, extra)


def classifier(
    data: Data = "digits",
    steps: Steps = None,
    out: Out = None,
    resume: Resume = False,
    seed: Seed = 0,
    threads: Threads = 1,
    device: Device = "cpu",
    batch_size: Batch = 64,
    lr: Lr = None,
    ckpt_every: Every = 250,
) -> None:
    """Train the digit CNN classifier (the reward model); reports validation accuracy."""
    _run(
        "classifier",
        data,
        steps,
        out,
        resume,
        seed,
        threads,
        device,
        batch_size,
        lr,
        ckpt_every,
        {},
    )


def _run(
    kind: str,
    data: str,
    steps: int | None,
    out: Path | None,
    resume: bool,
    seed: int,
    threads: int,
    device: str,
    batch_size: int,
    lr: float | None,
    ckpt_every: int,
    extra: dict[str, object],
) -> None:
    from mctd_trainer import checkpoints
    from mctd_trainer.digits import DEFAULT_LR, DEFAULT_STEPS, DigitsConfig, train_digits
    from mctd_trainer.guard import check_out as _check_out
    from mctd_trainer.guard import check_steps as _check_steps
    from mctd_trainer.guard import errors as _errors
    from mctd_trainer.loop import check_device
    from mctd_trainer.rundir import load_config, locked, new_run_dir

    prog = f"mctd-train {kind}"
    where: list[Path] = []
    with _errors(prog, where):
        if data != "digits":
            raise UserError(f"--data must be 'digits' (the only image data set), got {data!r}")
        check_device(device)
        _check_out(out, resume)
        cfg = DigitsConfig(
            kind,
            steps or DEFAULT_STEPS[kind],
            batch_size=batch_size,
            seed=seed,
            lr=DEFAULT_LR[kind] if lr is None else lr,
            ckpt_every=ckpt_every,
            **extra,  # type: ignore[arg-type]
        )
        cfg.check()
        if cfg.vae_run is not None and not Path(cfg.vae_run).is_dir():
            raise UserError(f"--vae {cfg.vae_run} is not a run directory")
        run_dir = out or new_run_dir(f"digits-{kind}")
        with locked(run_dir, prog):
            where.append(run_dir)
            if resume:
                saved = DigitsConfig.from_dict(load_config(run_dir))
                if saved.kind != kind:
                    raise UserError(f"{run_dir} is a digits {saved.kind} run, not a {kind} run")
                ck = checkpoints.load_latest(run_dir / "checkpoints")
                _check_steps(steps, ck.step if ck else 0)
                saved.steps = steps or saved.steps
                cfg = saved
            elif checkpoints.list_checkpoints(run_dir / "checkpoints"):
                raise UserError(f"{run_dir} already holds checkpoints; pass --resume")
            train_digits(cfg, run_dir, resume=resume, device=device, threads=threads)
    typer.echo(f"run directory: {run_dir}")
