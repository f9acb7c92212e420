"""The Python API runs the CLI's code: same rows for the same configuration; pandas optional."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import mctd_eval
import pytest
from mctd_eval.backends import load_lm

ROWS = [
    {"prompt": "Tom has 17 apples and buys 26 more. How many?", "answer": 43},
    {"prompt": "What is 6 times 7?", "answer": 42, "id": "six-sevens"},
]
METHODS = ["greedy", "best_of_n", "dts"]


def _rows(out: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return sorted(({k: v for k, v in r.items() if k != "wall_s"} for r in rows), key=str)


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "qs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_api_rows_equal_cli_rows(tmp_path: Path, toy_run: Any) -> None:
    qs = _file(tmp_path)
    cli_out, api_out = tmp_path / "cli", tmp_path / "api"
    res = toy_run(
        cli_out,
        "--tasks",
        "prompts",
        "--methods",
        ",".join(METHODS),
        "--budgets",
        "40",
        "--prompts",
        "2",
        "--seeds",
        "0,1",
        "--set",
        f"prompts.file={qs}",
        "--set",
        "prompts.reward=number",
        "--set",
        "dts.lam=4",
    )
    assert res.exit_code == 0, res.output
    ev = mctd_eval.evaluate(
        "default",
        qs,
        "number",
        methods=METHODS,
        budgets=[40],
        seeds=[0, 1],
        backend="toy",
        sets=["dts.lam=4"],
        out=api_out,
    )
    assert _rows(api_out) == _rows(cli_out) and len(_rows(cli_out)) == 2 * (1 + 2 + 2)
    saved = [json.loads((d / "config.json").read_text())["config"] for d in (cli_out, api_out)]
    assert saved[0] == saved[1]
    # pandas is installed here (statsmodels needs it): rows and summary are DataFrames
    assert list(ev.rows.sort_values("key")["key"]) == sorted(r["key"] for r in _rows(cli_out))
    greedy = ev.summary.set_index("method").loc["greedy"]
    assert greedy["n"] == 2 and greedy["budget"] == "natural" and "score_mean" in ev.summary
    assert "## prompts" in ev.markdown and ev.run_dir == api_out
    again = mctd_eval.evaluate(
        "default",
        qs,
        "number",
        methods=METHODS,
        budgets=[40],
        seeds=[0, 1],
        backend="toy",
        sets=["dts.lam=4"],
        out=cli_out,
    )
    assert len(again.rows) == 10 and _rows(cli_out) == _rows(api_out)  # resumed: nothing re-ran


def test_in_memory_prompts_and_model_without_pandas(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(sys.modules, "pandas", None)  # type: ignore[arg-type]
    ev = mctd_eval.evaluate(
        load_lm("toy"),
        ["Say hi.", {"prompt": "Say yes.", "answer": "yes"}],
        "regex:h",
        metric="regex:i",
        methods=["greedy"],
        budgets=[],
    )
    assert isinstance(ev.rows, list) and isinstance(ev.summary, list)
    stem = ev.rows[0]["label"].rpartition(":")[0]  # <sha256>.jsonl in $MCTD_CACHE/prompts
    assert [r["label"] for r in ev.rows] == [f"{stem}:1", f"{stem}:2"]
    assert all(r["reward_sees_truth"] is False for r in ev.rows)
    assert ev.run_dir is None and len(list((tmp_path / "cache" / "prompts").iterdir())) == 1
    with pytest.raises(ValueError, match=r'qs\.jsonl:1: no "prompt" field'):
        bad = tmp_path / "qs.jsonl"
        bad.write_text('{"question": "hi"}\n')
        mctd_eval.evaluate("default", bad, "number", backend="toy")
