"""``mctd-train mor``: trains on a corpus folder, logs validation, resumes after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_trainer import checkpoints
from mctd_trainer.cli import app
from mctd_trainer.mor import MorTrainConfig, TrapezoidConfig, load_mor_lm, train_mor
from typer.testing import CliRunner

TINY = [
    "--d-model",
    "32",
    "--heads",
    "2",
    "--d-ff",
    "64",
    "--layers",
    "3",
    "--seq-len",
    "24",
    "--batch-size",
    "4",
    "--warmup",
    "5",
]


@pytest.fixture(scope="module")
def corpus(make_tiny_corpus: Callable[[int], Path]) -> Path:
    return make_tiny_corpus(400)


def _cfg(corpus: Path, **kw) -> MorTrainConfig:
    base = dict(
        d_model=32,
        n_heads=2,
        d_ff=64,
        n_layers=3,
        seq_len=24,
        batch_size=4,
        warmup=5,
        steps=30,
        ckpt_every=10,
        corpus=str(corpus),
        val_windows=8,
    )
    base.update(kw)
    return MorTrainConfig(**base)


def test_trapezoid_schedule() -> None:
    c = TrapezoidConfig(steps=100, lr=1.0, warmup=10, cooldown_frac=0.2)
    assert c.lr_at(0) == pytest.approx(0.1) and c.lr_at(9) == pytest.approx(1.0)
    assert c.lr_at(50) == 1.0 and c.lr_at(80) == 1.0
    assert c.lr_at(90) == pytest.approx(0.5) and c.lr_at(99) == pytest.approx(0.05)


@pytest.mark.parametrize("arch", ["vanilla", "recursive", "mor-ec", "mor-tc"])
def test_each_arch_trains_and_exports(corpus: Path, tmp_path: Path, arch: str) -> None:
    m = train_mor(_cfg(corpus, arch=arch, n_recursion=2), tmp_path)
    assert m["val_nll"] < np.log(320) and m["steps"] == 30 and m["train_flops"] > 0
    assert list((tmp_path / "tb").iterdir())
    lm = load_mor_lm(tmp_path)
    assert lm.model.cfg.arch == arch
    (g,) = lm.generate([lm.encode("Tom had")], np.random.default_rng(0), max_new_tokens=5)
    assert len(g.tokens) >= 1


def test_training_flops_are_counted_on_every_step(corpus: Path, tmp_path: Path) -> None:
    from mctd_mor import FlopCounter, MoRForCausalLM
    from mctd_trainer.mor import model_config

    cfg = _cfg(corpus, arch="mor-ec", n_recursion=2, steps=10)
    m = train_mor(cfg, tmp_path)
    f = FlopCounter()  # expert-choice training: fixed capacities, so every step costs the same
    model = MoRForCausalLM(model_config(cfg, 320))
    model.lm_loss(torch.zeros(cfg.batch_size, cfg.seq_len + 1, dtype=torch.long), flops=f)
    assert m["train_flops"] == 10 * 3 * f.total
    ck = checkpoints.load_latest(tmp_path / "checkpoints")
    assert ck is not None and ck.meta["train_flops"] == m["train_flops"]


def test_resume_of_another_arch_is_refused(corpus: Path, tmp_path: Path) -> None:
    train_mor(_cfg(corpus, arch="mor-ec", steps=10), tmp_path)
    res = CliRunner().invoke(
        app,
        [
            "mor",
            "--arch",
            "mor-tc",
            "--resume",
            "--out",
            str(tmp_path),
            "--corpus",
            str(corpus),
            *TINY,
        ],
    )
    assert res.exit_code == 2 and "another architecture" in res.output
    thought = ["thought", "--arch", "thought", "--resume", "--out", str(tmp_path)]
    res = CliRunner().invoke(app, [*thought, "--corpus", str(corpus)])
    assert (
        res.exit_code == 2 and "arch=mor-ec" in res.output and "another architecture" in res.output
    )


@pytest.mark.parametrize(
    ("flag", "value", "says"), [("--nr", "0", "N_r"), ("--arch", "moe", "arch")]
)
def test_bad_model_options_are_user_errors(
    tmp_path: Path, flag: str, value: str, says: str
) -> None:
    res = CliRunner().invoke(app, ["mor", flag, value, "--out", str(tmp_path / "run"), *TINY])
    assert res.exit_code == 2 and says in res.output and "bug" not in res.output
    assert not (tmp_path / "run").exists()


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "mctd_trainer.cli", "mor", *args]


def test_sigkill_then_resume_equals_uninterrupted(corpus: Path, tmp_path: Path) -> None:
    killed, steps, every = tmp_path / "killed", 120, 10
    common = [
        "--arch",
        "mor-ec",
        "--nr",
        "2",
        "--steps",
        str(steps),
        "--ckpt-every",
        str(every),
        "--corpus",
        str(corpus),
        *TINY,
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
            if found and int(found[-1].name[5:14]) >= 2 * every:
                break
            assert proc.poll() is None, "training finished before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    last = checkpoints.load_latest(killed / "checkpoints")
    assert last is not None and last.step < steps
    subprocess.run(
        _cli("--out", str(killed), "--resume", *common), env=env, check=True, capture_output=True
    )
    ref = tmp_path / "ref"
    train_mor(_cfg(corpus, arch="mor-ec", n_recursion=2, steps=steps), ref)
    a = checkpoints.load_latest(killed / "checkpoints")
    b = checkpoints.load_latest(ref / "checkpoints")
    assert a is not None and b is not None and a.step == b.step == steps
    assert a.meta["train_flops"] == b.meta["train_flops"] > 0
    for k in b.tensors:
        if k.startswith("model."):
            torch.testing.assert_close(a.tensors[k], b.tensors[k], msg=k)
