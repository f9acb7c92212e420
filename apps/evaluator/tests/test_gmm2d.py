"""The gmm2d diffusion task: every method on the exact denoiser, resume, report, the MMD figure,
method/task mismatches, and a checkpoint folder as --model (tiny untrained MLP, no training)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from mctd_eval.methods import DIFFUSION_METHODS

# tiny: 10 DDIM steps, branching every 5, 16 samples scored per cell
TINY = [
    "--tasks",
    "gmm2d",
    "--budgets",
    "40",
    "--seeds",
    "0,1",
    "--no-progress",
    *("--set", "gmm2d.num_steps=10", "--set", "gmm2d.branch_every=5"),
    *("--set", "gmm2d.n_out=16", "--set", "gmm2d.parallel=4"),
]


@pytest.fixture(scope="module")
def gmm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("gmm") / "run"
    res = CliRunner().invoke(app, ["run", "--out", str(out), *TINY])
    assert res.exit_code == 0, res.output
    return out


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_every_method_cell_writes_a_row(gmm_run: Path) -> None:
    rows = _rows(gmm_run)
    assert sorted({r["method"] for r in rows}) == sorted(DIFFUSION_METHODS)
    assert len(rows) == len(DIFFUSION_METHODS) * 2  # one budget, two seeds
    for r in rows:
        assert r["task"] == "gmm2d" and r["label"] == "exact" and r["budget"] == 40
        assert r["nfe"] >= 40 and r["calls"] >= 1 and r["n_samples"] >= 1
        assert r["mmd"] >= 0 and r["swd"] >= 0 and 0 <= r["coverage"] <= 1
        assert r["best_reward"] >= r["mean_reward"] - 1e-9 or r["method"] == "dts_star"
    config = json.loads((gmm_run / "config.json").read_text())["config"]
    assert config["task_params"]["gmm2d"]["num_steps"] == 10
    assert set(config["method_params"]["dts"]) == {"c_widen", "alpha", "select_lam"}


def test_resume_skips_finished_cells(gmm_run: Path, cli: Any) -> None:
    before = (gmm_run / "results.jsonl").read_bytes()
    res = cli("run", "--out", gmm_run, *TINY, "--no-figures")
    assert res.exit_code == 0, res.output
    assert "ran 0 cell(s), skipped 12 finished" in res.output
    assert (gmm_run / "results.jsonl").read_bytes() == before


def test_report_rebuilds_the_same_summary_and_a_png(gmm_run: Path, cli: Any) -> None:
    md, csv_text = (gmm_run / "summary.md").read_text(), (gmm_run / "summary.csv").read_text()
    (gmm_run / "summary.md").unlink()
    (gmm_run / "summary.csv").unlink()
    res = cli("report", gmm_run)
    assert res.exit_code == 0, res.output
    assert (gmm_run / "summary.md").read_text() == md
    assert (gmm_run / "summary.csv").read_text() == csv_text
    assert "| method | budget | n | NFE | calls | s/cell | mmd | swd |" in md
    table = list(csv.DictReader(csv_text.splitlines()))
    assert {r["method"] for r in table} == set(DIFFUSION_METHODS)
    assert all(float(r["mmd_lo"]) <= float(r["mmd_mean"]) <= float(r["mmd_hi"]) for r in table)
    png = (gmm_run / "figures" / "mmd_vs_nfe.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in png[-12:]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--methods", "dts,mcts"],
            "method 'mcts' does not apply to task(s) gmm2d; valid methods for gmm2d: dts, "
            "dts_star, best_of_n, importance, smc, guidance",
        ),
        (["--methods", "smc", "--tasks", "arith"], "method 'smc' does not apply to task(s) arith"),
        (["--tasks", "gmm2d,arith"], "run them separately"),
        (["--methods", "dts", "--backend", "toy"], "--backend toy does not apply"),
        (["--set", "dts.k=3"], "unknown parameter(s) k for method 'dts'; valid: c_widen, alpha"),
        (["--set", "gmm2d.n_out=0"], "integer n_out >= 1"),
        (["--model", "/nonexistent/run"], "neither 'exact' nor an mctd-train gmm2d run folder"),
    ],
)
def test_wrong_input_is_a_clear_error(
    tmp_path: Path, cli: Any, args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    # later options win: --tasks / --methods given here override TINY's
    res = cli("run", "--out", out, *TINY, *args)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert not out.exists()


def test_list_shows_each_tasks_methods(cli: Any) -> None:
    res = cli("list")
    assert res.exit_code == 0
    assert "gmm2d (diffusion)" in res.output
    assert "methods: dts, dts_star, best_of_n, importance, smc, guidance" in res.output
    info = json.loads(cli("list", "--json").output)
    assert info["tasks"]["arith"]["methods"][0] == "greedy"
    assert info["tasks"]["gmm2d"]["methods"] == list(DIFFUSION_METHODS)


def test_checkpoint_folder_as_model(tmp_path: Path, cli: Any) -> None:
    """An mctd-train folder (config.json + checkpoints written by the trainer's checkpoint code)
    loads; the newest checkpoint that fails its checksum is skipped with the previous one used."""
    import torch
    from mctd_diffusion.tasks.gmm2d import Gmm2dTask
    from mctd_trainer import checkpoints

    task = Gmm2dTask(hidden=16, depth=1, emb_dim=8)
    run = tmp_path / "train"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"task": task.to_dict()}))
    torch.manual_seed(0)
    tensors = {f"model.{k}": v.contiguous() for k, v in task.model().state_dict().items()}
    checkpoints.save(run / "checkpoints", 7, tensors, {})
    checkpoints.save(run / "checkpoints", 9, tensors, {})
    raw = (run / "checkpoints" / "ckpt-000000009.safetensors").read_bytes()
    (run / "checkpoints" / "ckpt-000000009.safetensors").write_bytes(raw[:-8] + b"\0" * 8)

    out = tmp_path / "run"
    res = cli("run", "--out", out, *TINY, "--methods", "best_of_n", "--model", run)
    assert res.exit_code == 0, res.output
    rows = _rows(out)
    assert len(rows) == 2 and {r["label"] for r in rows} == {"train@7"}

    (run / "checkpoints" / "ckpt-000000007.safetensors").unlink()
    res = cli("run", "--out", tmp_path / "run2", *TINY, "--model", run)
    assert res.exit_code == 2 and "no valid checkpoint" in res.output
