"""``mctd-train thought``: both architectures train and export, resume equals an uninterrupted
run, the other architecture's run is refused, bad options are one-line errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_thought import DecodeConfig, generate
from mctd_trainer import checkpoints
from mctd_trainer.cli import app
from mctd_trainer.thought import ThoughtTrainConfig, load_thought, train_thought
from typer.testing import CliRunner

TINY = ["--d-model", "16", "--heads", "2", "--d-ff", "32", "--layers", "2", "--seg-len", "8"]
TINY += ["--n-seg", "2", "--batch-size", "2", "--warmup", "2", "--height", "2", "--width", "2"]
TINY += ["--d-thought", "8", "--slots", "2", "--val-samples", "1"]


@pytest.fixture(scope="module")
def corpus(make_tiny_corpus: Callable[[int], Path]) -> Path:
    return make_tiny_corpus(200)


def _cfg(corpus: Path, **kw: object) -> ThoughtTrainConfig:
    base: dict[str, object] = dict(
        d_model=16,
        n_heads=2,
        d_ff=32,
        n_layers=2,
        height=2,
        width=2,
        d_thought=8,
        slots=2,
        seg_len=8,
        n_seg=2,
        batch_size=2,
        warmup=2,
        steps=6,
        ckpt_every=3,
        corpus=str(corpus),
        val_windows=4,
        val_samples=1,
    )
    base.update(kw)
    return ThoughtTrainConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("arch", ["thought", "baseline"])
def test_each_arch_trains_and_exports(corpus: Path, tmp_path: Path, arch: str) -> None:
    m = train_thought(_cfg(corpus, arch=arch), tmp_path)
    assert m["steps"] == 6 and np.isfinite(m["val_bound"]) and "val_bound_ctx" in m
    assert list((tmp_path / "tb").iterdir())
    model, tok = load_thought(tmp_path, arch=arch)
    prompt = [tok.eos_token_id, *tok.encode("Tom had")]
    g = generate(model, prompt, DecodeConfig(len(prompt) + 4, "threshold", tau=0.9))
    assert len(g.answers[0]) == 4


def test_resume_equals_uninterrupted(corpus: Path, tmp_path: Path) -> None:
    train_thought(_cfg(corpus, steps=3), tmp_path / "a")
    train_thought(_cfg(corpus, steps=6), tmp_path / "a", resume=True)
    train_thought(_cfg(corpus, steps=6), tmp_path / "b")
    a = checkpoints.load_latest(tmp_path / "a" / "checkpoints")
    b = checkpoints.load_latest(tmp_path / "b" / "checkpoints")
    assert a is not None and b is not None and a.step == b.step == 6
    for k in b.tensors:
        if k.startswith("model."):
            torch.testing.assert_close(a.tensors[k], b.tensors[k], msg=k)


def test_other_arch_and_bad_options_are_refused(corpus: Path, tmp_path: Path) -> None:
    train_thought(_cfg(corpus, arch="thought", steps=3), tmp_path)
    run = CliRunner()
    base = ["thought", "--corpus", str(corpus), *TINY]
    res = run.invoke(app, [*base, "--arch", "baseline", "--resume", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "other architecture" in res.output
    res = run.invoke(app, [*base, "--arch", "diffusion", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--arch" in res.output and not (tmp_path / "x").exists()
    res = run.invoke(app, [*base, "--eviction", "random", "--out", str(tmp_path / "y")])
    assert res.exit_code == 2 and "eviction" in res.output and not (tmp_path / "y").exists()
    from mctd_thought import ThoughtLoadError

    with pytest.raises(ThoughtLoadError, match="holds a 'thought' model"):
        load_thought(tmp_path / "model", arch="baseline")
