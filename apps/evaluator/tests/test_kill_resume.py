"""A run killed at an arbitrary moment (SIGKILL), then restarted, ends with exactly one row per
cell."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mctd_eval.config import RunConfig

ARGS = ["--tasks", "arith,keywords", "--budgets", "100", "--prompts", "2", "--seeds", "0,1"]


def _cmd(out: Path) -> list[str]:
    run = [sys.executable, "-m", "mctd_eval", "run", "--backend", "toy", "--no-progress"]
    return [*run, "--no-figures", "--out", str(out), *ARGS]


def _rows(out: Path) -> list[str]:
    path = out / "results.jsonl"
    return path.read_text().splitlines() if path.exists() else []


def test_sigkill_then_resume(tmp_path: Path) -> None:
    out = tmp_path / "run"
    expected = RunConfig(
        tasks=["arith", "keywords"],
        methods=["greedy", "best_of_n", "beam", "mcts", "dts", "dts_star", "maxent_ts"],
        budgets=[100],
        prompts=2,
        seeds=[0, 1],
        backend="toy",
    ).resolved()
    keys = {c.key for c in expected.cells()}
    proc = subprocess.Popen(_cmd(out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(_rows(out)) < 5 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read() if proc.stderr else ""
    partial = _rows(out)
    assert 5 <= len(partial) < len(keys)  # killed mid-way

    done = subprocess.run(_cmd(out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"skipped {len([r for r in partial if r.endswith('}')])} finished" in done.stdout
    rows = _rows(out)
    got = [json.loads(r)["key"] for r in rows if r.strip().endswith("}")]
    assert len(got) == len(set(got)) == len(keys)
    assert set(got) == keys
    assert (out / "summary.md").exists()
