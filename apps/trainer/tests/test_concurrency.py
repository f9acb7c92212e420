"""One writer per run directory: a second mctd-train on the same --out is refused while the first
runs (naming its pid); after a SIGKILL of the first, the second takes the directory over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mctd_tree.files import LOCK_NAME
from mctd_tree.testing import lock_holder, one_thread_env


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_trainer.cli", "gmm2d", "--batch-size", "16", *args]


def test_second_writer_refused_then_takes_over_after_sigkill(tmp_path: Path) -> None:
    run = tmp_path / "run"
    long = _cli("--steps", "1000000", "--ckpt-every", "1000000", "--out", str(run))
    with lock_holder(long, run) as first:
        small = ["--steps", "4", "--ckpt-every", "2", "--eval-samples", "10", "--out", str(run)]
        second = subprocess.run(_cli(*small), env=one_thread_env(), capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert f"is in use by process {first.pid} (mctd-train gmm2d" in second.stderr
        assert "Traceback" not in second.stderr
        assert first.poll() is None  # the refused writer did not disturb the running one
    assert (run / LOCK_NAME).exists()  # a stale lock file: its holder is dead
    second = subprocess.run(_cli(*small), env=one_thread_env(), capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"took over the lock of process {first.pid}" in second.stderr
    assert json.loads((run / "eval.json").read_text())["end_step"] == 4
    assert not (run / LOCK_NAME).exists()
