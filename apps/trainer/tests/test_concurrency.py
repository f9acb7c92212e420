"""One writer per run directory: a second mctd-train on the same --out is refused while the first
runs (naming its pid); after a SIGKILL of the first, the second takes the directory over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mctd_tree.files import LOCK_NAME


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_trainer.cli", "gmm2d", "--batch-size", "16", *args]


def _wait_for_lock(run: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if json.loads((run / LOCK_NAME).read_text()).get("pid") == proc.pid:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, "the first writer ended before it was seen holding the lock"
        time.sleep(0.05)
    raise AssertionError("the first writer never took the lock")


def test_second_writer_refused_then_takes_over_after_sigkill(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(
        _cli("--steps", "1000000", "--ckpt-every", "1000000", "--out", str(run)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_lock(run, first)
        small = ["--steps", "4", "--ckpt-every", "2", "--eval-samples", "10", "--out", str(run)]
        second = subprocess.run(_cli(*small), env=env, capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert f"is in use by process {first.pid} (mctd-train gmm2d" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the refused writer did not disturb the running one
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert (run / LOCK_NAME).exists()  # a stale lock file: its holder is dead
    second = subprocess.run(_cli(*small), env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"took over the lock of process {first.pid}" in second.stderr
    assert json.loads((run / "eval.json").read_text())["end_step"] == 4
    assert not (run / LOCK_NAME).exists()
