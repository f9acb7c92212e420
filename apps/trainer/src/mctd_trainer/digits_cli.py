"""``mctd-train vae|unet|classifier --data digits``: the latent image diffusion models.

The three commands share one block of options (data, steps, out, resume, seed, threads, device,
batch size, learning rate, checkpoint interval: :data:`SHARED`); :func:`digits_command` adds them
to each command's own options, so a command is only what differs: its options and the config
fields they set.
"""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from mctd_tree.errors import UserError, float_option, int_option


@dataclass(frozen=True)
class Shared:
    """The options every digits command takes."""

    data: Annotated[str, typer.Option(help="Data set: digits (scikit-learn, 8x8).")] = "digits"
    steps: Annotated[
        int | None, typer.Option(parser=int_option(1), help="Total optimizer steps.")
    ] = None
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-digits-<kind>).")
    ] = None
    resume: Annotated[
        bool, typer.Option(help="Continue from the newest good checkpoint in --out.")
    ] = False
    seed: Annotated[int, typer.Option(parser=int_option(), help="Seed of init and batches.")] = 0
    threads: Annotated[
        int, typer.Option(parser=int_option(0), help="torch CPU threads (0: default).")
    ] = 1
    device: Annotated[str, typer.Option(help="cpu (default), cuda or auto.")] = "cpu"
    batch_size: Annotated[int, typer.Option(parser=int_option(1))] = 64
    lr: Annotated[float | None, typer.Option(parser=float_option(), help="Peak learning rate.")] = (
        None
    )
    ckpt_every: Annotated[
        int, typer.Option(parser=int_option(1), help="Checkpoint every N steps.")
    ] = 250


SHARED = [
    inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=t)
    for f, t in zip(
        Shared.__dataclass_fields__.values(),
        typing.get_type_hints(Shared, include_extras=True).values(),
        strict=True,
    )
]


def digits_command(kind: str) -> Callable[[Callable[..., dict[str, Any]]], Callable[..., None]]:
    """Make a typer command of ``kind`` from a function of its own options that returns the
    config fields they set; the shared options (:class:`Shared`) come first."""

    def wrap(own: Callable[..., dict[str, Any]]) -> Callable[..., None]:
        hints = typing.get_type_hints(own, include_extras=True)
        params = [
            p.replace(annotation=hints[p.name], kind=inspect.Parameter.KEYWORD_ONLY)
            for p in inspect.signature(own).parameters.values()
        ]

        @functools.wraps(own)
        def command(**kwargs: Any) -> None:
            shared = Shared(**{p.name: kwargs.pop(p.name) for p in SHARED})
            _run(kind, shared, own(**kwargs))

        command.__signature__ = inspect.Signature([*SHARED, *params])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in [*SHARED, *params]}
        del command.__wrapped__  # typer must read the merged signature, not ``own``'s
        return command

    return wrap


@digits_command("vae")
def vae(
    latent_channels: Annotated[int, typer.Option(parser=int_option(1))] = 2,
    beta: Annotated[float, typer.Option(parser=float_option(0.0), help="KL weight.")] = 0.05,
) -> dict[str, Any]:
    """Train the digits VAE (8x8 images <-> (C, 4, 4) latents); reports validation RMSE."""
    return {"arch": {"latent_channels": latent_channels}, "beta": beta}


@digits_command("unet")
def unet(
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
) -> dict[str, Any]:
    """Train the class-conditional latent UNet denoiser (or, with --mor-nr, the MoR UNet)."""
    extra: dict[str, Any] = {"vae_run": None if vae is None else str(vae), "label_drop": label_drop}
    if mor_nr:
        extra["arch"] = {"n_recursion": mor_nr, "capacity": capacity}
    return extra


@digits_command("classifier")
def classifier() -> dict[str, Any]:
    """Train the digit CNN classifier (the reward model); reports validation accuracy."""
    return {}


def _run(kind: str, o: Shared, extra: dict[str, Any]) -> None:
    from mctd_trainer import checkpoints
    from mctd_trainer.digits import DEFAULT_LR, DEFAULT_STEPS, DigitsConfig, train_digits
    from mctd_trainer.guard import check_fresh
    from mctd_trainer.guard import check_out as _check_out
    from mctd_trainer.guard import check_steps as _check_steps
    from mctd_trainer.guard import errors as _errors
    from mctd_trainer.loop import check_device
    from mctd_trainer.rundir import load_config, locked, new_run_dir

    prog = f"mctd-train {kind}"
    where: list[Path] = []
    with _errors(prog, where):
        if o.data != "digits":
            raise UserError(f"--data must be 'digits' (the only image data set), got {o.data!r}")
        check_device(o.device)
        _check_out(o.out, o.resume)
        cfg = DigitsConfig(
            kind,
            o.steps or DEFAULT_STEPS[kind],
            batch_size=o.batch_size,
            seed=o.seed,
            lr=DEFAULT_LR[kind] if o.lr is None else o.lr,
            ckpt_every=o.ckpt_every,
            **extra,
        )
        cfg.check()
        if cfg.vae_run is not None and not Path(cfg.vae_run).is_dir():
            raise UserError(f"--vae {cfg.vae_run} is not a run directory")
        run_dir = o.out or new_run_dir(f"digits-{kind}")
        with locked(run_dir, prog):
            where.append(run_dir)
            if o.resume:
                saved = DigitsConfig.from_dict(load_config(run_dir))
                if saved.kind != kind:
                    raise UserError(f"{run_dir} is a digits {saved.kind} run, not a {kind} run")
                ck = checkpoints.load_latest(run_dir / "checkpoints")
                _check_steps(o.steps, ck.step if ck else 0)
                saved.steps = o.steps or saved.steps
                cfg = saved
            else:
                check_fresh(run_dir)
            train_digits(cfg, run_dir, resume=o.resume, device=o.device, threads=o.threads)
    typer.echo(f"run directory: {run_dir}")
