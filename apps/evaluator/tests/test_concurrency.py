"""One writer per run directory: a second `mctd-eval run` on the same --out is refused while the
first runs (naming its pid); after a SIGKILL of the first, the second takes the directory over."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mctd_tree.files import LOCK_NAME
from mctd_tree.testing import lock_holder, one_thread_env

GMM = ["--tasks", "gmm2d", "--seeds", "0", "--no-progress", "--no-figures"]
GMM += ["--set", "gmm2d.num_steps=10", "--set", "gmm2d.branch_every=5", "--set", "gmm2d.n_out=8"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_eval.cli", "run", *GMM, *args]


def test_second_run_refused_then_takes_over_after_sigkill(tmp_path: Path) -> None:
    run = tmp_path / "run"
    long = ["--methods", "dts", "--budgets", "10000000", "--out", str(run)]
    running = (run / "config.json").exists  # the lock is taken before config.json is written
    with lock_holder(_cli(*long), run, timeout=180, ready=running) as first:
        before = {p.name: p.read_bytes() for p in run.iterdir()}
        second = subprocess.run(_cli(*long), env=one_thread_env(), capture_output=True, text=True)
        assert second.returncode == 2, second.stderr
        assert f"is in use by process {first.pid} (mctd-eval run" in second.stderr
        assert "Traceback" not in second.stderr
        assert {p.name: p.read_bytes() for p in run.iterdir()} == before
        assert first.poll() is None
    small = ["--methods", "best_of_n", "--budgets", "40", "--out", str(run), "--force"]
    second = subprocess.run(_cli(*small), env=one_thread_env(), capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert f"took over the lock of process {first.pid}" in second.stderr
    rows = (run / "results.jsonl").read_text().splitlines()
    assert [json.loads(r)["method"] for r in rows] == ["best_of_n"]
    assert not (run / LOCK_NAME).exists()
