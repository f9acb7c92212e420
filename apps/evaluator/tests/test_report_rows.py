"""`report` aggregates only rows that are cells of the run's configuration, says how many it
ignored and why, and is honest about rows whose reward is NaN."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

GMM = ["run", "--tasks", "gmm2d", "--budgets", "40", "--seeds", "0,1", "--no-progress"]
GMM += ["--no-figures", "--methods", "best_of_n"]
GMM += ["--set", "gmm2d.num_steps=10", "--set", "gmm2d.branch_every=5", "--set", "gmm2d.n_out=8"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("rows") / "run"
    res = CliRunner().invoke(app, [*GMM, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _write(out: Path, rows: list[dict[str, Any]], extra: str = "") -> None:
    (out / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows) + extra)


def _edit(key: str, **change: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def f(row: dict[str, Any]) -> dict[str, Any]:
        new = {**row, **change}
        new["key"] = key
        return {k: v for k, v in new.items() if v is not DROP}

    return f


DROP = object()
P99 = "gmm2d|p99|best_of_n|40|s0"
S0 = "gmm2d|p0|best_of_n|40|s0"


@pytest.mark.parametrize(
    ("name", "make", "reason"),
    [
        ("foreign key", _edit(P99, prompt=99, reward=111.0), "its key is not a cell"),
        ("no method", _edit(S0, method=DROP), "it has no 'method'"),
        ("reward text", _edit(S0, reward="high"), "its 'reward' is 'high', not a number"),
        ("field vs key", _edit(S0, seed=7), "its 'seed' (7) disagrees with its key"),
        ("other task", _edit("arith|p0|greedy|natural|s0", task="arith"), "its key is not a cell"),
    ],
)
def test_rows_that_do_not_belong_are_ignored_and_counted(
    tmp_path: Path, finished: Path, cli: Callable, name: str, make: Callable, reason: str
) -> None:
    out = Path(shutil.copytree(finished, tmp_path / "run"))
    good = _rows(out)
    csv_before = (out / "summary.csv").read_text()
    bad = make(good[0])
    # a bad row for an existing cell comes first (the first row per key is the one read)
    _write(out, [bad, *good] if bad["key"] == P99 or "arith" in bad["key"] else [*good, bad])
    if bad["key"] == S0:
        _write(out, [bad, good[1]])
    res = cli("report", out)
    assert res.exit_code == 0, res.output
    assert f"1 row(s) ignored: {reason}" in res.output
    if bad["key"] != S0:  # the table is exactly the one of the run's own rows
        assert (out / "summary.csv").read_text() == csv_before
    else:  # the bad row took its cell's place: n counts only the good row
        assert "| best_of_n | 40 | 1 |" in (out / "summary.md").read_text()


def test_a_nan_reward_is_reported_and_the_table_says_n(
    tmp_path: Path, finished: Path, cli: Callable
) -> None:
    out = Path(shutil.copytree(finished, tmp_path / "run"))
    rows = _rows(out)
    assert len(rows) == 2 and all(isinstance(r["reward"], float) for r in rows)
    nan = dict(rows[0], reward=float("nan"), best_reward=float("nan"))
    (out / "results.jsonl").write_text(json.dumps(nan) + "\n" + json.dumps(rows[1]) + "\n")
    res = cli("report", out)
    assert res.exit_code == 0, res.output
    assert "1 of 2 row(s) have no finite reward" in " ".join(res.output.split())
    md = (out / "summary.md").read_text()
    assert "(n=1)" in md and "| best_of_n | 40 | 2 |" in md
    assert "NaN" not in (out / "summary.csv").read_text()
