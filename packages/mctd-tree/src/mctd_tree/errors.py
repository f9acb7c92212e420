"""The project's own exceptions: every package raises these, every CLI maps them to an exit code.

- `UserError` (also a ``ValueError``): the input is wrong (a bad option, a missing or foreign
  file, a model that cannot be found). CLIs print one line ``error: <message>`` and exit 2.
- `IntegrityError`: a file on disk fails its verification (checksum, truncation, format).
- `RunLockedError`: a run directory is held by another live process.
- `InternalError` (also a ``RuntimeError``): a bug. CLIs exit 70 with a request for a bug report
  and the traceback saved to the run directory (`save_traceback`). Any exception that is not a
  `UserError` is treated the same way.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

EXIT_USER = 2
EXIT_INTERNAL = 70  # sysexits.h EX_SOFTWARE


class MctdError(Exception):
    """Base of every exception mctd raises on purpose."""


class UserError(MctdError, ValueError):
    """Bad input from the user (CLI: one line, exit 2). A ``ValueError`` for older callers."""


class IntegrityError(UserError):
    """A file fails verification: checksum mismatch, truncated, or not in the expected format."""


class RunLockedError(UserError):
    """A run directory is in use by another live process (its pid is in the message)."""


class InternalError(MctdError, RuntimeError):
    """Something that should not happen did: a bug in mctd, to be reported."""


def save_traceback(err: BaseException, directory: Path | None, prog: str) -> Path:
    """Write ``err``'s traceback to ``<directory>/crash-<time>-<pid>.txt`` (or the temp dir when
    ``directory`` does not exist) and return the path."""
    where = directory if directory is not None and directory.is_dir() else None
    where = where or Path(tempfile.gettempdir())
    path = where / f"crash-{prog}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    try:
        path.write_text(text)
    except OSError:
        path = Path(tempfile.gettempdir()) / path.name
        path.write_text(text)
    return path


def describe(err: BaseException, directory: Path | None, prog: str) -> tuple[str, int]:
    """(the message a CLI prints, its exit code) for an exception that ended a command."""
    if isinstance(err, UserError):
        return f"error: {err}", EXIT_USER
    saved = save_traceback(err, directory, prog)
    return (
        f"internal error in {prog}: {type(err).__name__}: {err}\n"
        f"This is a bug in mctd: please file an issue in the mctd repository and attach {saved} "
        "(the full traceback).",
        EXIT_INTERNAL,
    )


def int_option(lo: int | None = None) -> Callable[[Any], int]:
    """A CLI option parser: an integer >= ``lo``, else a `UserError` naming the given value."""

    def parse(value: Any) -> int:
        try:
            n = int(str(value).strip())
        except ValueError:
            raise UserError(f"{value!r} is not an integer") from None
        if lo is not None and n < lo:
            raise UserError(f"{n} is below the minimum {lo}")
        return n

    return parse


def float_option(lo: float | None = None, hi: float | None = None) -> Callable[[Any], float]:
    """A CLI option parser: a finite number in [``lo``, ``hi``], else a `UserError` naming it."""

    def parse(value: Any) -> float:
        try:
            x = float(str(value).strip())
        except ValueError:
            raise UserError(f"{value!r} is not a number") from None
        if not math.isfinite(x):
            raise UserError(f"{x} is not a finite number")
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            raise UserError(f"{x} is outside [{lo}, {hi}]")
        return x

    return parse


@contextmanager
def user_errors() -> Iterator[None]:
    """Treat a ``ValueError`` raised inside as bad input: re-raise it as a `UserError`. For the
    validation phase of a command, where every ValueError is about what the user gave."""
    try:
        yield
    except UserError:
        raise
    except ValueError as err:
        raise UserError(str(err)) from err
