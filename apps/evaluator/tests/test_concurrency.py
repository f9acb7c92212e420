"""One writer per run directory: a second `mctd-eval run` on the same --out is refused while the
first runs (naming its pid); after a SIGKILL of the first, the second takes the directory over."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mctd_tree.files import LOCK_NAME

GMM = ["--tasks", "gmm2d", "--seeds", "0", "--no-progress", "--no-figures"]
GMM += ["--set", "gmm2d.num_steps=10", "--set", "gmm2d.branch_every=5", "--set", "gmm2d.n_out=8"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_eval.cli", "run", *GMM, *args]


def _wait_until_running(run: Path, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            pid = json.loads((run / LOCK_NAME).read_text()).get("pid")
            if pid == proc.pid and (run / "config.json").exists():
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, "the first run ended before it was seen running"
        time.sleep(0.05)
    raise AssertionError("the first run never started")


def test_second_run_refused_then_takes_over_after_sigkill(tmp_path: Path) -> None:
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    long = ["--methods", "dts", "--budgets", "10000000", "--out", str(run)]
    first = subprocess.Popen(
        _cli(*long), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        _wait_until_running(run, first)
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        second = subprocess.run(_cli(*long), env=env, capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert f"is in use by process {first.pid} (mctd-eval run" in second.stderr
        assert "Traceback" not in second.stderr
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
        assert first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    small = ["--methods", "best_of_n", "--budgets", "40", "--out", str(run), "--force"]
    second = subprocess.run(_cli(*small), env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"took over the lock of process {first.pid}" in second.stderr
    rows = (run / "results.jsonl").read_text().splitlines()
    assert [json.loads(r)["method"] for r in rows] == ["best_of_n"]
    assert not (run / LOCK_NAME).exists()
