"""Run directories: ``runs/<time>-<name>/`` with the resolved config saved as JSON.

A run holds the directory's `mctd_tree.files.RunLock` for its whole life (`locked`): a second
writer is refused with the holder's pid, a killed holder's lock is taken over, and temp files a
killed run left behind are removed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mctd_tree.files import RunLock, clean_temp_files, read_json_object, write_json


def new_run_dir(name: str, root: Path = Path("runs")) -> Path:
    """The path of a fresh ``runs/<YYYYmmdd-HHMMSS>-<name>`` directory (made when locked)."""
    return root / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"


def save_config(run_dir: Path, config: dict[str, Any]) -> Path:
    """Write ``config.json`` (atomically, strict JSON) into the run directory."""
    path = run_dir / "config.json"
    write_json(path, config)
    return path


def load_config(run_dir: Path) -> dict[str, Any]:
    """The saved ``config.json``; a `UserError` naming the file when it is missing or garbage."""
    if run_dir.exists() and not run_dir.is_dir():
        from mctd_tree.errors import UserError

        raise UserError(f"{run_dir} is not a directory (an mctd-train run directory was expected)")
    return read_json_object(run_dir / "config.json", "an mctd-train run directory")


@contextmanager
def locked(run_dir: Path, command: str) -> Iterator[Path]:
    """Hold ``run_dir``'s lock (creating the directory) and clear its stale temp files."""
    with RunLock(run_dir, command) as lock:
        if lock.took_over:
            print(
                f"{command}: took over the lock of process {lock.took_over} (no longer running)",
                file=sys.stderr,
            )
        removed = clean_temp_files(run_dir, ["checkpoints"])
        if removed:
            print(
                f"{command}: removed {len(removed)} temp file(s) an interrupted run left",
                file=sys.stderr,
            )
        yield run_dir
