"""The real embedded SmolLM2-135M-Instruct: one short integration test, and the quick preset."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest


def test_default_model_greedy_arith(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "run"
    res = cli(
        "run", "--tasks", "arith", "--methods", "greedy", "--prompts", "1",
        "--no-progress", "--no-figures", "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (row,) = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert (row["answer"].strip() and row["nfe"] == row["length"] + 0) or row["nfe"] > 0
    assert row["success"] in (0.0, 1.0) and row["ppl"] > 1.0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["config"]["model"] == "default" and cfg["config"]["backend"] == "torch"


@pytest.mark.slow
def test_quick_preset_no_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mctd-eval`` with no arguments: under 5 minutes, every method in the table, valid PNGs."""
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    monkeypatch.chdir(tmp_path)
    t0 = time.perf_counter()
    res = CliRunner().invoke(app, [])
    wall = time.perf_counter() - t0
    assert res.exit_code == 0, res.output
    print(f"quick preset: {wall:.0f} s")
    for m in ("greedy", "best_of_n", "beam", "mcts", "dts", "dts_star", "maxent_ts"):
        assert f"| {m} |" in res.output
    figs = [
        Path(line.split("figure: ")[1]) for line in res.output.splitlines() if "figure: " in line
    ]
    assert len(figs) == 4
    for f in figs:
        assert f.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
