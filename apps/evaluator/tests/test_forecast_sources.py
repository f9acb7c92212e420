"""forecast with series from anywhere (CSV, statsmodels) and its naive reference rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mctd_eval.tasks import get_task

ONE = ["--methods", "greedy", "--prompts", "1", "--budgets", "40"]


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def _csv(path: Path, values: list[float], dates: bool = True) -> Path:
    head = "month,value\n" if dates else "value\n"
    lines = [
        (f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{v}" if dates else f"{v}")
        for i, v in enumerate(values)
    ]
    path.write_text(head + "\n".join(lines) + "\n")
    return path


def test_csv_series_through_the_forecast_task(tmp_path: Path, toy_run: Any) -> None:
    t = np.arange(60)
    values = [round(10 + 0.1 * i + 3 * np.sin(2 * np.pi * i / 12), 3) for i in t]
    path = _csv(tmp_path / "sales.csv", values)
    spec = f"csv:{path}:value"
    task = get_task("forecast", {"series": spec, "horizon": 6, "history": 24})
    inst = task.instances(2)
    assert inst[0].public.period == 12  # monthly dates in the file
    np.testing.assert_allclose(inst[0].truth, values[-6:])
    np.testing.assert_allclose(inst[1].truth, values[-12:-6])
    out = tmp_path / "run"
    sets = ["--set", f"forecast.series={spec}", "--set", "forecast.horizon=6"]
    res = toy_run(out, "--tasks", "forecast", *ONE, *sets)
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in _rows(out)}
    assert set(rows) == {"greedy", "naive", "seasonal_naive"}
    assert rows["greedy"]["label"] == f"{spec}@54" and rows["greedy"]["nfe"] > 0
    assert "MASE = MAE / mean_{t>m} |y_t - y_{t-m}|" in res.output


def test_statsmodels_series_through_the_forecast_task(tmp_path: Path, toy_run: Any) -> None:
    spec = "statsmodels:danish_data:lrm"
    task = get_task("forecast", {"series": [spec], "horizon": 4, "history": 20})
    assert task.instances(1)[0].public.period == 4  # quarterly index
    forced = get_task("forecast", {"series": [spec], "horizon": 4, "period": 2})
    assert forced.instances(1)[0].public.period == 2
    out = tmp_path / "run"
    res = toy_run(out, "--tasks", "forecast", *ONE, "--set", f'forecast.series=["{spec}", "nile"]')
    assert res.exit_code == 0, res.output
    labels = {r["label"] for r in _rows(out)}
    assert labels == {f"{spec}@47"}  # one prompt of the first series: 55 - 8 values observed


def test_naive_rows_by_hand(tmp_path: Path, toy_run: Any) -> None:
    # a period-2 zigzag climbing by 1 a season: observed 12 values, truth the last 4
    y = [1, 5, 2, 6, 3, 7, 4, 8, 5, 9, 6, 10, 7, 11, 8, 12]
    path = _csv(tmp_path / "zig.csv", y, dates=False)
    out = tmp_path / "run"
    sets = ["--set", f"forecast.series=csv:{path}:value", "--set", "forecast.horizon=4"]
    res = toy_run(out, "--tasks", "forecast", *ONE, *sets, "--set", "forecast.period=2")
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in _rows(out)}
    naive, seasonal = rows["naive"], rows["seasonal_naive"]
    # naive: 10, 10, 10, 10 vs 7, 11, 8, 12 -> |e| = 3, 1, 2, 2
    # seasonal: 6, 10, 6, 10 -> |e| = 1, 1, 2, 2
    assert naive["mae"] == pytest.approx(2.0) and seasonal["mae"] == pytest.approx(1.5)
    # MASE scale: mean |y_t - y_{t-2}| over the 12 observed values = 1 (every season climbs by 1)
    assert naive["mase"] == pytest.approx(2.0) and seasonal["mase"] == pytest.approx(1.5)
    smape = 25 * (6 / 17 + 2 / 21 + 4 / 18 + 4 / 22)
    assert naive["smape"] == pytest.approx(smape)
    for r in (naive, seasonal):
        assert (r["nfe"], r["calls"], r["prompt_nfe"], r["budget"]) == (0, 0, 0, None)
        assert r["reference"] is True and r["reward_sees_truth"] is False
        assert r["validity"] == 1.0 and r["success"] == 0.0 and np.isfinite(r["reward"])
    assert "| naive | natural | 1 | 0 | 0 |" in res.output
    # without a season (m = 1), seasonal-naive is the naive forecast
    out1 = tmp_path / "run1"
    assert toy_run(out1, "--tasks", "forecast", *ONE, *sets).exit_code == 0
    rows1 = {r["method"]: r for r in _rows(out1)}
    assert rows1["seasonal_naive"]["mae"] == rows1["naive"]["mae"] == pytest.approx(2.0)
    off = tmp_path / "off"
    assert toy_run(off, "--tasks", "forecast", *ONE, *sets, "--set", "forecast.baselines=false")
    assert {r["method"] for r in _rows(off)} == {"greedy"}


@pytest.mark.parametrize(
    ("text", "spec", "message"),
    [
        ("value\n1\n2\n", "csv:{p}:price", "x.csv:1: no column 'price'; columns: value"),
        ("value\n1\n2\nn/a\n4\n", "csv:{p}:value", "x.csv:4: column 'value' holds 'n/a', not a"),
        ("", "statsmodels:danish_data:zz", "no column 'zz'; columns: lrm"),
        ("", "csv:{p}", "must be csv:PATH:COLUMN"),
        ("", "sunspot", "unknown series 'sunspot'"),
    ],
)
def test_bad_series_is_one_line_and_writes_nothing(
    tmp_path: Path, toy_run: Any, text: str, spec: str, message: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_text(text)
    out = tmp_path / "run"
    res = toy_run(
        out, "--tasks", "forecast", *ONE, "--set", f"forecast.series={spec.format(p=path)}"
    )
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1
    assert not out.exists()
