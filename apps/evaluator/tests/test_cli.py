"""The CLI: bad input gives clear errors and leaves no files; resume, report and compare work."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import random
from pathlib import Path
from typing import Any

import pytest

SMALL = ["--tasks", "arith,keywords", "--budgets", "60", "--prompts", "2"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--tasks", "arith,poetry"],
            "unknown task 'poetry'; valid tasks: forecast, arith, keywords",
        ),
        (
            ["--methods", "mcts,a_star"],
            "valid methods for task(s) arith, keywords: greedy, best_of_n, beam, mcts, dts",
        ),
        (["--budgets", "0"], "NFE budgets must be >= 1"),
        (["--budgets", "ten"], "comma-separated integers"),
        (["--prompts", "0"], "prompts must be an integer >= 1"),
        (["--set", "mcts.depth=3"], "unknown parameter(s) depth for method 'mcts'; valid: k"),
        (["--set", "keywords.fluency_weight=-1"], "fluency_weight >= 0"),
        (["--set", "forecast.gamma=1"], "parameters given for task 'forecast', which is not in"),
        (["--set", "colour=red"], "unknown setting 'colour'"),
        (["--executor", "spark"], "valid executors: local, ray"),
        (["--backend", "jax"], "valid backends: torch, mlx, mor, thought, toy"),
    ],
)
def test_bad_input_is_a_clear_error_with_no_files(
    tmp_path: Path, args: list[str], message: str, toy_run: Any
) -> None:
    out = tmp_path / "run"
    res = toy_run(out, *SMALL, *args)
    assert res.exit_code == 2, res.output
    assert message in " ".join(res.output.split())
    assert not out.exists()


def test_missing_mlx_extra_is_explained(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    if importlib.util.find_spec("mctd_llm_mlx") is not None:
        pytest.skip("mctd-llm-mlx is installed here")
    out = tmp_path / "run"
    res = cli("run", "--backend", "mlx", "--out", out, *SMALL)
    assert res.exit_code == 2 and "'mlx' extra" in res.output
    assert not out.exists()


def test_unreachable_ray_address(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "run"
    res = toy_run(out, *SMALL, "--executor", "ray", "--address", "127.0.0.1:1")
    assert res.exit_code == 2 and "cannot reach a Ray cluster at 127.0.0.1:1" in res.output
    assert not out.exists()


def test_run_resume_and_foreign_directory(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    out = tmp_path / "run"
    first = toy_run(out, *SMALL)
    assert first.exit_code == 0, first.output
    assert "## arith" in first.output and "summary.md" in first.output
    rows = (out / "results.jsonl").read_bytes()
    n = len(rows.splitlines())
    assert n == 2 * 2 * 7  # tasks x prompts x (greedy, beam, 5 budgeted methods)
    again = toy_run(out, *SMALL)
    assert again.exit_code == 0 and f"ran 0 cell(s), skipped {n} finished" in again.output
    assert (out / "results.jsonl").read_bytes() == rows

    other = toy_run(out, *SMALL, "--set", "temperature=0.5")
    assert other.exit_code == 2 and "another configuration" in other.output
    assert "temperature" in other.output and "--force" in other.output
    assert (out / "results.jsonl").read_bytes() == rows

    forced = toy_run(out, *SMALL, "--set", "temperature=0.5", "--force")
    assert forced.exit_code == 0, forced.output
    cfg = json.loads((out / "config.json").read_text())["config"]
    assert cfg["temperature"] == 0.5


def test_report_rebuilds_identical_tables(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    out = tmp_path / "run"
    assert toy_run(out, *SMALL, "--seeds", "0,1").exit_code == 0
    csv, md = (out / "summary.csv").read_bytes(), (out / "summary.md").read_bytes()
    (out / "summary.csv").unlink()
    (out / "summary.md").unlink()
    lines = (out / "results.jsonl").read_text().splitlines()
    random.Random(0).shuffle(lines)  # order in the file must not matter
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    assert not (out / "figures").exists()  # --no-figures
    res = cli("report", out)
    assert res.exit_code == 0, res.output
    assert (out / "summary.csv").read_bytes() == csv
    assert (out / "summary.md").read_bytes() == md
    from matplotlib.image import imread

    for f in ("reward_vs_nfe", "success_vs_nfe", "time_per_sample", "diversity_vs_reward"):
        png = out / "figures" / f"{f}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert imread(png).shape[0] > 100  # decodes


def test_report_skips_a_corrupt_line(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    out = tmp_path / "run"
    assert toy_run(out, *SMALL).exit_code == 0
    with (out / "results.jsonl").open("a") as f:
        f.write('{"key": "arith|p0|mc')
    res = cli("report", out)
    assert res.exit_code == 0 and "corrupt line skipped" in res.output


def test_report_of_a_non_run(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    res = cli("report", tmp_path)
    assert res.exit_code == 2 and "not an mctd-eval run directory" in res.output


def test_compare(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert toy_run(a, *SMALL).exit_code == 0
    assert toy_run(b, *SMALL, "--set", "temperature=1.0").exit_code == 0
    res = cli("compare", a, b)
    assert res.exit_code == 0, res.output
    assert "- temperature: A=0.8 B=1.0" in res.output
    assert "| arith | mcts | 60 |" in res.output and "14 shared groups" in res.output


def test_list(cli: Any) -> None:
    res = cli("list")
    assert res.exit_code == 0
    for name in ("forecast", "arith", "keywords", "greedy", "best_of_n", "beam", "mcts", "dts"):
        assert f"  {name}" in res.output
    info = json.loads(cli("list", "--json").output)
    assert info["methods"]["dts_star"]["params"]["backup"] == "max"
    assert not info["methods"]["greedy"]["budgeted"]


def test_chunked_edges_and_version(tmp_path: Path, cli: Any, toy_run: Any) -> None:
    res = toy_run(
        tmp_path / "run", "--tasks", "arith", "--methods", "greedy,beam,mcts,dts,maxent_ts",
        "--budgets", "60", "--prompts", "1", "--set", "chunk=4",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and all(r["nfe"] > 0 for r in rows)
    assert cli("--version").output.strip() == importlib.metadata.version("mctd-evaluator")
