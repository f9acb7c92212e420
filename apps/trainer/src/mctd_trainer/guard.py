"""The ``mctd-train`` commands' shared guards: errors by type and run-directory checks.

A `mctd_tree.errors.UserError` (bad option, foreign or locked run directory, corrupt checkpoint,
diverged training) is one line and exit 2; anything else is a bug: exit 70, with the traceback
saved to the run directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from mctd_tree.errors import UserError, describe


@contextmanager
def errors(prog: str, where: list[Path]) -> Iterator[None]:
    """User errors -> one line, exit 2; other exceptions -> bug report, traceback in ``where``."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as err:
        msg, code = describe(err, where[0] if where else None, prog)
        typer.echo(msg, err=True)
        raise typer.Exit(code) from None


def check_out(out: Path | None, resume: bool) -> None:
    if resume and out is None:
        raise UserError("--resume needs --out RUN_DIR")
    if out is not None and out.exists() and not out.is_dir():
        raise UserError(f"--out {out} exists and is not a directory")
    if resume and out is not None and not out.is_dir():
        raise UserError(f"--out {out} does not exist: nothing to resume")


def check_fresh(run_dir: Path) -> None:
    """Refuse to start a new run in a directory that already holds checkpoints."""
    from mctd_trainer.checkpoints import list_checkpoints

    if list_checkpoints(run_dir / "checkpoints"):
        raise UserError(f"{run_dir} already holds checkpoints; pass --resume")


def check_steps(steps: int | None, reached: int) -> None:
    if steps is not None and steps < reached:
        raise UserError(
            f"--steps {steps} is below the step this run already reached ({reached}); pass "
            f"--steps >= {reached}, or leave --steps out to keep the saved total"
        )
