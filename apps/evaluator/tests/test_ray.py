"""The Ray executor (a local Ray instance, two worker actors) gives the same rows as local."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mctd_eval import execute
from mctd_eval.config import RunConfig, Runtime

pytestmark = pytest.mark.slow  # starting Ray takes 20-40 s on the shared 2-core machine


def _rows(out: Path) -> dict[str, dict[str, object]]:
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("wall_s")
    return {str(r["key"]): r for r in rows}


def test_ray_matches_local(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    cfg = RunConfig(
        tasks=["arith", "keywords"],
        methods=["greedy", "best_of_n", "mcts", "dts", "maxent_ts"],
        budgets=[80],
        prompts=2,
        seeds=[0, 1],
        backend="toy",
    )
    local = execute.run(cfg, Runtime(), tmp_path / "local", progress=False, figures=False)
    ray = execute.run(
        cfg, Runtime("ray", workers=2), tmp_path / "ray", progress=False, figures=False
    )
    assert local.ran == ray.ran == len(cfg.resolved().cells())
    assert _rows(tmp_path / "local") == _rows(tmp_path / "ray")
    from ray._private import ray_constants

    assert not ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV  # workers never re-run uv
    csv = (tmp_path / "local" / "summary.csv").read_text().splitlines()
    assert csv[1:] and len(csv) == len((tmp_path / "ray" / "summary.csv").read_text().splitlines())
