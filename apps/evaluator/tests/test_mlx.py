"""The mlx backend (the optional ``mlx`` extra) runs a cell like torch does: same greedy answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.mlx


def test_mlx_greedy_matches_torch(tmp_path: Path, cli: Any) -> None:
    pytest.importorskip("mctd_llm_mlx", reason="the mlx extra is not installed")
    rows = {}
    for backend in ("mlx", "torch"):
        out = tmp_path / backend
        res = cli(
            "run", "--backend", backend, "--tasks", "arith", "--methods", "greedy",
            "--prompts", "1", "--no-progress", "--no-figures", "--out", out,
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        rows[backend] = json.loads((out / "results.jsonl").read_text())
    assert rows["mlx"]["answer_tokens"] == rows["torch"]["answer_tokens"]
    assert rows["mlx"]["nfe"] == rows["torch"]["nfe"]
    assert rows["mlx"]["ppl"] == pytest.approx(rows["torch"]["ppl"], rel=1e-2)
