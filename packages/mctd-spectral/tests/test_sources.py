"""Series from anywhere: statsmodels:DATASET:COLUMN, csv:PATH:COLUMN, register_series."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from mctd_spectral import (
    SeriesError,
    check_series_spec,
    infer_period,
    list_series,
    load_series,
    register_series,
    series_from_values,
    unregister_series,
)


def test_statsmodels_column_with_its_quarterly_period() -> None:
    import statsmodels.datasets as ds

    s = load_series("statsmodels:danish_data:lrm")
    raw = ds.danish_data.load_pandas().data["lrm"].to_numpy(float)
    np.testing.assert_array_equal(s.values, raw)
    assert (s.period, s.freq, s.start) == (4, "quarterly", "1974-01-01")
    assert load_series("statsmodels:macrodata:infl").period == 4  # year + quarter columns
    assert load_series("statsmodels:nile:volume").period == 1  # a year column: annual
    assert load_series("statsmodels:danish_data:lrm", period=2).period == 2


def test_statsmodels_gaps_match_the_builtin_co2() -> None:
    np.testing.assert_array_equal(
        load_series("statsmodels:co2:co2").values, load_series("co2").values
    )
    assert load_series("statsmodels:co2:co2").period == 52  # a weekly dated index


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("statsmodels:danish_data:zz", "no column 'zz'; columns: lrm, lry"),
        ("statsmodels:nope:x", "no statsmodels dataset 'nope'; datasets: anes96"),
        ("statsmodels:danish_data", "must be statsmodels:DATASET:COLUMN"),
        ("csv:data.csv", "must be csv:PATH:COLUMN"),
        ("airline", "unknown series 'airline'"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(SeriesError, match=message):
        load_series(spec)


def _csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_column_with_period_from_its_dates(tmp_path: Path) -> None:
    lines = ["month,sales,note"]
    lines += [f"2020-{m:02d}-01,{10 + m}.5,x" for m in range(1, 13)]
    lines += [f"2021-{m:02d}-01,{20 + m},y" for m in range(1, 13)]
    path = _csv(tmp_path / "sales.csv", "\n".join(lines) + "\n\n")
    s = load_series(f"csv:{path}:sales")
    assert s.values.tolist()[:2] == [11.5, 12.5] and len(s) == 24
    assert (s.period, s.freq, s.start) == (12, "monthly", "2020-01-01")
    q = _csv(tmp_path / "q.csv", "when,y\n" + "".join(f"2001Q{i},{i}\n" for i in (1, 2, 3, 4)))
    assert load_series(f"csv:{q}:y").period == 4
    plain = _csv(tmp_path / "plain.csv", "y\n1\n2\n3\n")
    assert (load_series(f"csv:{plain}:y").period, load_series(f"csv:{plain}:y").freq) == (
        1,
        "unknown",
    )
    assert load_series(f"csv:{plain}:y", period=3).period == 3


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("a,b\n1,2\n3,4\n", "c", r"x.csv:1: no column 'c'; columns: a, b"),
        ("a,b\n1,2\n3,oops\n5,6\n", "b", r"x.csv:3: column 'b' holds 'oops', not a finite number"),
        ("a,b\n1,2\n3,\n", "b", r"x.csv:3: column 'b' holds '', not a finite number"),
        ("a,b\n1,2\n3,nan\n", "b", r"x.csv:3: column 'b' holds 'nan'"),
        ("a,b\n1,2\n3\n", "b", r"x.csv:3: 1 cell\(s\), the header has 2"),
        ("a,b\n1,2\n", "b", r"x.csv: column 'b' has 1 value\(s\); need at least 2"),
        ("", "b", r"x.csv:1: empty file"),
    ],
)
def test_bad_csv_names_file_and_line(tmp_path: Path, text: str, column: str, message: str) -> None:
    path = _csv(tmp_path / "x.csv", text)
    with pytest.raises(SeriesError, match=message):
        load_series(f"csv:{path}:{column}")


def test_infer_period_from_spacing() -> None:
    t0 = datetime(2000, 1, 3)
    for step, period in (
        (timedelta(hours=1), 24),
        (timedelta(days=1), 7),
        (timedelta(weeks=1), 52),
    ):
        assert infer_period([t0 + i * step for i in range(10)])[0] == period  # type: ignore[index]
    assert infer_period([datetime(2000 + i, 1, 1) for i in range(5)]) == (1, "annual")
    assert infer_period([t0, t0 + timedelta(days=3), t0 + timedelta(days=6)]) is None


def test_register_series_is_public_and_checked() -> None:
    s = series_from_values("mine", [1.0, 3.0, 2.0, 4.0], period=2)
    register_series("mine", s)
    try:
        assert "mine" in list_series()
        got = load_series("mine")
        assert got.values.tolist() == [1.0, 3.0, 2.0, 4.0] and got.period == 2
        check_series_spec("mine")
        with pytest.raises(ValueError, match="exists already"):
            register_series("mine", s)
        register_series("mine", lambda: series_from_values("mine", [5, 6]), replace=True)
        assert load_series("mine").values.tolist() == [5.0, 6.0]
        with pytest.raises(ValueError, match="exists already"):
            register_series("sunspots", s)
        with pytest.raises(ValueError, match="hold no ':'"):
            register_series("csv:x", s)
        with pytest.raises(ValueError, match="NaN"):
            series_from_values("bad", [1.0, float("nan")])
    finally:
        unregister_series("mine")
    assert "mine" not in list_series()
    check_series_spec("statsmodels:anything:col")  # well-formed: no data read
    with pytest.raises(SeriesError, match="unknown series"):
        check_series_spec("mine")
