"""``--model PATH``: a tiny random Llama saved as a local folder runs through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_model_path(tmp_path: Path, tiny_model_dir: Path, cli: Any) -> None:
    out = tmp_path / "run"
    res = cli(
        "run", "--model", tiny_model_dir, "--tasks", "arith", "--methods", "greedy,dts",
        "--budgets", "30", "--prompts", "1", "--set", "arith.max_tokens=6",
        "--no-progress", "--no-figures", "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert [r["method"] for r in rows] == ["greedy", "dts"]
    assert rows[1]["nfe"] >= 30


def test_missing_model_path_is_a_clear_error(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "run"
    res = cli(
        "run", "--model", tmp_path / "nope", "--tasks", "arith", "--methods", "greedy",
        "--no-progress", "--out", out,
    )  # fmt: skip
    assert res.exit_code == 2 and "nope" in res.output
    assert not out.exists()
