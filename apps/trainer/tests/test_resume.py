"""Kill mctd-train with SIGKILL mid-run, resume, and compare with an uninterrupted run."""

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from mctd_trainer import checkpoints
from mctd_trainer.cli import app
from mctd_trainer.gmm2d import Gmm2dConfig, load_gmm2d, train_gmm2d
from typer.testing import CliRunner

STEPS, EVERY, BATCH = 150, 10, 32


def _weights(run: Path) -> dict[str, torch.Tensor]:
    ck = checkpoints.load_latest(run / "checkpoints")
    assert ck is not None
    return ck.tensors


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_trainer.cli", "gmm2d", *args]


def test_sigkill_then_resume_loses_no_completed_step(tmp_path: Path) -> None:
    killed, ref = tmp_path / "killed", tmp_path / "ref"
    common = [
        "--steps",
        str(STEPS),
        "--ckpt-every",
        str(EVERY),
        "--batch-size",
        str(BATCH),
        "--eval-samples",
        "50",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        _cli("--out", str(killed), *common),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    try:
        while time.time() < deadline:
            found = checkpoints.list_checkpoints(killed / "checkpoints")
            if found and int(found[-1].name[5:14]) >= 2 * EVERY:
                break
            assert proc.poll() is None, "training finished before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    last = checkpoints.load_latest(killed / "checkpoints")
    assert last is not None and EVERY * 2 <= last.step < STEPS
    out = subprocess.run(
        _cli("--out", str(killed), "--resume"), env=env, capture_output=True, text=True, check=True
    )
    assert (
        f"resuming from ckpt-{last.step:09d}.safetensors (step {last.step})"
        in out.stdout + out.stderr
    )
    cfg = Gmm2dConfig(steps=STEPS, ckpt_every=EVERY, batch_size=BATCH, eval_samples=50)
    metrics = train_gmm2d(cfg, ref)
    assert metrics["start_step"] == 0
    a, b = _weights(killed), _weights(ref)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(
            a[k], b[k], msg=k
        )  # the resumed run equals the uninterrupted one
    _, _, step = load_gmm2d(killed)
    assert step == STEPS and (killed / "config.json").exists() and list((killed / "tb").iterdir())


def test_resume_skips_a_corrupt_checkpoint(tmp_path: Path, caplog, capsys) -> None:
    cfg = Gmm2dConfig(steps=60, ckpt_every=20, batch_size=32, eval_samples=20)
    train_gmm2d(cfg, tmp_path)
    newest = checkpoints.list_checkpoints(tmp_path / "checkpoints")[-1]
    newest.write_bytes(newest.read_bytes()[:200])  # truncated
    cfg.steps = 80
    with caplog.at_level(logging.WARNING):
        metrics = train_gmm2d(cfg, tmp_path, resume=True)
    assert "ckpt-000000060" in caplog.text and "unreadable" in caplog.text
    assert metrics["start_step"] == 40 and metrics["end_step"] == 80
    assert "resuming from ckpt-000000040.safetensors (step 40)" in capsys.readouterr().out


def test_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["gmm2d", "--resume"])
    assert res.exit_code != 0 and "--resume needs --out" in res.output
    res = runner.invoke(app, ["gmm2d", "--steps", "0"])
    assert res.exit_code != 0
    res = runner.invoke(
        app, ["gmm2d", "--steps", "2", "--device", "tpu", "--out", str(tmp_path / "r")]
    )
    assert res.exit_code == 2 and "device must be" in res.output


@pytest.mark.slow
def test_trained_gmm2d_is_close_to_the_true_mixture(tmp_path: Path) -> None:
    """Default training (4000 steps, a few minutes on 2 CPU cores): MMD (RBF, bw 0.5) < 0.08."""
    metrics = train_gmm2d(Gmm2dConfig(), tmp_path)
    assert metrics["mmd"] < 0.08 and metrics["coverage"] == 1.0
