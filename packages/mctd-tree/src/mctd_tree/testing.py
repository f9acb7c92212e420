"""Helpers for the apps' tests of run directories (standard library only; no pytest needed).

- `snapshot`: every file under a path with its bytes, to assert that a refused command changed
  nothing.
- `cli_text`: a CLI's output with rich's box drawing and line wrapping removed, to search in.
- `one_thread_env`: the environment for a CLI subprocess, one torch/BLAS thread.
- `lock_holder`: a subprocess that holds a run directory's `RunLock` (waited for, SIGKILLed on
  exit), to test a second writer against a live one and the take-over after a kill.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from mctd_tree.files import LOCK_NAME


def snapshot(path: Path) -> dict[str, bytes] | None:
    """Every file under ``path`` with its bytes (None when ``path`` does not exist)."""
    if not path.exists():
        return None
    if path.is_file():
        return {"": path.read_bytes()}
    return {
        p.relative_to(path).as_posix(): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(path.rglob("*"))
    }


def cli_text(output: str) -> str:
    """``output`` on one line: rich's panel borders dropped and runs of whitespace joined."""
    return " ".join(output.replace("│", " ").replace("╭", " ").replace("╰", " ").split())


def one_thread_env() -> dict[str, str]:
    """This process's environment with one torch/BLAS thread (for CLI subprocesses)."""
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def wait_for_lock(
    run: Path,
    proc: subprocess.Popen[bytes],
    timeout: float = 120,
    ready: Callable[[], bool] = lambda: True,
) -> None:
    """Wait until ``proc`` holds the lock of ``run`` (and ``ready()`` is true); fail if it ends
    first or the time runs out."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if json.loads((run / LOCK_NAME).read_text()).get("pid") == proc.pid and ready():
                return
        except (OSError, ValueError):
            pass
        if proc.poll() is not None:
            raise AssertionError(
                f"the lock holder ended (exit {proc.returncode}) before holding it"
            )
        time.sleep(0.05)
    raise AssertionError(f"the lock holder never took the lock of {run} within {timeout} s")


@contextmanager
def lock_holder(
    command: Sequence[str],
    run: Path,
    *,
    timeout: float = 120,
    ready: Callable[[], bool] = lambda: True,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``command`` (a long writer of ``run``) with one torch/BLAS thread, wait until it holds
    the lock, yield it; on exit it is SIGKILLed (so its lock file stays behind, stale)."""
    proc = subprocess.Popen(
        list(command), env=one_thread_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_lock(run, proc, timeout, ready)
        yield proc
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
