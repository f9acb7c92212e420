"""The digits task (image family): tiny VAE / UNet / classifier runs trained in-process (2 steps;
the tests check the plumbing, counters, figures and errors, not sample quality)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mctd_eval.methods import IMAGE_METHODS

BASE = ["--tasks", "digits", "--budgets", "16", "--prompts", "1", "--seeds", "0", "--no-progress"]
TINY = [*BASE, "--set", "digits.num_steps=4", "--set", "digits.branch_every=2"]
TINY += ["--set", "digits.n_out=4", "--set", "digits.parallel=2"]
ARCH = {
    "vae": {"channels": 8, "latent_channels": 2},
    "unet": {"channels": [8, 16], "emb_dim": 16, "num_classes": 10, "mid_blocks": 1},
    "classifier": {"width": 4},
}


def _train(kind: str, out: Path, vae: Path | None = None, **arch: Any) -> None:
    from mctd_trainer.digits import DigitsConfig, train_digits

    cfg = DigitsConfig(
        kind,
        2,
        batch_size=8,
        ckpt_every=2,
        vae_run=None if vae is None else str(vae),
        arch={**ARCH[kind], **arch},
    )
    cfg.check()
    train_digits(cfg, out)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR with vae, unet (MoR, N_r = 2: the capacity knob fast_mctd turns), clf."""
    root = tmp_path_factory.mktemp("digits") / "models"
    _train("vae", root / "vae")
    _train("unet", root / "unet", root / "vae", n_recursion=2, capacity=1.0)
    _train("classifier", root / "clf")
    _train("vae", root / "vae3", latent_channels=3)
    return root


def _invoke(*args: Any) -> Any:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def digits_run(models: Path) -> Path:
    out = models.parent / "run"
    res = _invoke("run", "--out", out, "--model", models, *TINY)
    assert res.exit_code == 0, res.output
    return out


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {r["method"]: r for r in map(json.loads, lines)}


def test_rows_carry_the_digits_columns(digits_run: Path) -> None:
    rows = _rows(digits_run)
    assert sorted(rows) == sorted(IMAGE_METHODS)
    for m, r in rows.items():
        assert r["task"] == "digits" and r["label"].startswith("vae@2+unet@2+clf@2")
        assert 0 <= r["target_rate"] <= 1 and r["mean_reward"] <= 0 and r["diversity"] >= 0
        assert r["nfe"] >= 1 and r["flops"] > 0 and r["mflops"] == pytest.approx(r["flops"] / 1e6)
        assert 1 <= len(r["digit_images"]) <= 4 and len(r["digit_images"][0]) == 8, m
    # guided calls count 2 NFE a step: N = 16 // (2 * 4) = 2 draws of 4 steps
    assert rows["cfg"]["nfe"] == rows["guidance"]["nfe"] == 2 * 4 * 2
    assert rows["best_of_n"]["nfe"] == 4 * 4
    # a CFG call runs two rows per element: twice the FLOPs of a plain call per NFE-pair
    assert rows["cfg"]["flops"] == pytest.approx(rows["best_of_n"]["flops"], rel=1e-9)


def test_summary_table_and_figures(digits_run: Path) -> None:
    md = (digits_run / "summary.md").read_text()
    assert "| method | budget | n | NFE | MFLOP | calls | s/cell |" in md
    assert "target_rate" in md and "frechet" in md
    figs = {p.name for p in (digits_run / "figures").iterdir()}
    assert {"target_rate_vs_nfe.png", "target_rate_vs_flops.png"} <= figs
    for m in IMAGE_METHODS:
        assert f"digits_digits_{m}_16.png" in figs


def test_complexity_budget_changes_flops_not_nfe_unit(models: Path, tmp_path: Path) -> None:
    flops = {}
    for c in (0.5, 2.0):
        out = tmp_path / f"c{c}"
        args = [*TINY, "--methods", "fast_mctd", "--set", f"fast_mctd.complexity={c}"]
        res = _invoke("run", "--out", out, "--model", models, *args)
        assert res.exit_code == 0, res.output
        flops[c] = _rows(out)["fast_mctd"]["flops"] / _rows(out)["fast_mctd"]["nfe"]
    assert flops[0.5] < flops[2.0]  # cheap rollouts: fewer FLOPs per NFE


def _bad_unet(models: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(models, bad)
    for f in (bad / "unet" / "checkpoints").glob("*.safetensors"):
        f.write_bytes(f.read_bytes()[:100])
    return bad


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "missing",
            "no digits vae run at {empty}/vae (not a folder); train it with "
            "`mctd-train vae --data digits --out {empty}/vae`",
        ),
        ("unreadable", "{bad}/unet is not a usable digits unet run"),
        ("unreadable", "`mctd-train unet --data digits --vae {bad}/vae --out {bad}/unet`"),
        ("kind", "is a digits classifier run, not a unet run"),
        ("shape", "the VAE's latents are (3, 4, 4) but the UNet was built for (2, 4, 4)"),
        ("target", "digits needs a target class, an integer in 0-9, got 10"),
        ("negative", "digits needs a target class, an integer in 0-9, got -1"),
        ("default-model", "the digits task needs --model DIR"),
        ("method", "method 'mcts' does not apply to task(s) digits"),
        ("complexity", "fast_mctd.complexity must be a finite number"),
        ("complexity-0", "the complexity budget must be a finite number > 0, got 0"),
        ("cfg-scale", "cfg.scale (the classifier-free guidance scale) must be >= 0, got -1"),
    ],
)
def test_wrong_input_is_a_clear_error_and_writes_nothing(
    models: Path, tmp_path: Path, case: str, message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    model: Path | str = models
    extra: list[str] = ["--methods", "best_of_n"]
    if case == "missing":
        model = empty
    elif case == "unreadable":
        model = _bad_unet(models, tmp_path)
    elif case == "default-model":
        model = "default"
    else:
        extra += {
            "kind": ["--set", "digits.unet=clf"],
            "shape": ["--set", "digits.vae=vae3"],
            "target": ["--set", "digits.target=10"],
            "negative": ["--set", "digits.target=-1"],
            "method": ["--methods", "mcts"],
            "complexity": ["--methods", "fast_mctd", "--set", 'fast_mctd.complexity="x"'],
            "complexity-0": ["--methods", "fast_mctd", "--set", "fast_mctd.complexity=0"],
            "cfg-scale": ["--methods", "cfg", "--set", "cfg.scale=-1"],
        }[case]
    out = tmp_path / "run"
    res = _invoke("run", "--out", out, "--model", model, *BASE, *extra)
    assert res.exit_code == 2, res.output
    expected = message.format(empty=empty, bad=tmp_path / "bad")
    assert expected in " ".join(res.output.split())
    assert not out.exists()


def test_preset_and_list() -> None:
    from mctd_eval.config import preset

    p = preset("digits")
    assert p["tasks"] == ["digits"] and p["methods"] == list(IMAGE_METHODS)
    res = _invoke("list")
    assert res.exit_code == 0 and "digits (image)" in res.output and "fast_mctd" in res.output
