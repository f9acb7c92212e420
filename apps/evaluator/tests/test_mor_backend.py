"""``--backend mor --model DIR``: every LM method runs on a tiny MoR run, rows carry FLOPs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mctd_mor.testing import save_tiny_run

METHODS = "greedy,best_of_n,beam,mcts,dts,dts_star,maxent_ts"


def _run(cli: Any, model: Path, out: Path, *args: str) -> Any:
    return cli(
        "run", "--backend", "mor", "--model", model, "--tasks", "keywords", "--budgets", "40",
        "--prompts", "1", "--set", "keywords.max_tokens=6", "--no-progress", "--no-figures",
        "--out", out, *args,
    )  # fmt: skip


def test_every_method_runs_on_a_mor_run(tmp_path: Path, cli: Any) -> None:
    run = tmp_path / "mor-run"
    save_tiny_run(run / "model")
    out = tmp_path / "out"
    res = _run(cli, run, out, "--methods", METHODS)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["method"] for r in rows] == METHODS.split(",")
    for r in rows:
        assert r["nfe"] > 0 and r["flops"] > 0 and r["prompt_nfe"] > 0, r
        assert r["reward_flops"] >= 0 and r["reward_nfe"] >= 0, r  # keywords' fluency, apart
        if r["method"] not in ("greedy", "beam"):
            assert r["nfe"] >= 40, r  # budgeted: stops at the first boundary past the budget


def test_bad_mor_folders_are_clear_errors(tmp_path: Path, cli: Any, tiny_model_dir: Path) -> None:
    out = tmp_path / "out"
    res = _run(cli, tmp_path / "nope", out)
    assert res.exit_code == 2 and "does not exist" in res.output, res.output
    res = _run(cli, tiny_model_dir, out)  # a Llama folder: another architecture
    assert res.exit_code == 2 and "not a mctd-mor model folder" in " ".join(res.output.split())
    assert not out.exists()
