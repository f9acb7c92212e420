"""Series from outside the built-in list: ``statsmodels:DATASET:COLUMN`` and ``csv:PATH:COLUMN``.

The season (``period``) is inferred where the data says it (`infer_period`): from dates (a dated
index, or a date column of the CSV) by their median spacing, or from ``year`` with ``quarter`` /
``month`` columns; otherwise it is 1 and the caller may set it (``load_series(..., period=m)``).
Bad input is a `SeriesError` naming the file and line (CSV) or the dataset and row.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from mctd_spectral.series import Series, SeriesError, statsmodels_datasets

# (lowest, highest) median spacing in days -> (period, freq)
_SPACINGS = (
    (0.03, 0.05, 24, "hourly"),
    (0.9, 1.1, 7, "daily"),
    (6.5, 7.5, 52, "weekly"),
    (27.5, 31.5, 12, "monthly"),
    (89.0, 92.5, 4, "quarterly"),
    (364.0, 366.5, 1, "annual"),
)
_DATE_NAMES = ("date", "datetime", "time", "timestamp", "period", "month", "week", "day")
_QUARTER = re.compile(r"^(\d{4})[- ]?Q([1-4])$", re.I)
_YEAR_MONTH = re.compile(r"^(\d{4})[-/M](\d{1,2})$")


def split_spec(rest: str, spec: str) -> tuple[str, str]:
    """``"SOURCE:COLUMN"`` -> (source, column); the column is after the last ``:``."""
    source, sep, column = rest.rpartition(":")
    if not sep or not source or not column:
        kind = spec.partition(":")[0]
        what = "DATASET" if kind == "statsmodels" else "PATH"
        raise SeriesError(f"series spec {spec!r} must be {kind}:{what}:COLUMN")
    return source, column


def infer_period(dates: Sequence[datetime]) -> tuple[int, str] | None:
    """(period, freq) from the median spacing of ``dates``, or None when it is irregular."""
    if len(dates) < 3:
        return None
    stamps = np.array([d.timestamp() for d in dates])
    days = float(np.median(np.diff(stamps))) / 86400.0
    for lo, hi, period, freq in _SPACINGS:
        if lo <= days <= hi:
            return period, freq
    return None


def parse_date(text: str, *, years: bool = False) -> datetime | None:
    """An ISO date/time, ``1974Q2``, ``1974-03`` (or a bare year when ``years``), else None."""
    s = text.strip()
    if m := _QUARTER.match(s):
        return datetime(int(m[1]), 3 * int(m[2]) - 2, 1)
    if (m := _YEAR_MONTH.match(s)) and 1 <= int(m[2]) <= 12:
        return datetime(int(m[1]), int(m[2]), 1)
    if years and re.fullmatch(r"\d{4}", s):
        return datetime(int(s), 1, 1)
    try:
        return datetime.fromisoformat(s)
    except ValueError:
        return None


def _from_columns(names: Sequence[str]) -> tuple[int, str] | None:
    low = {n.lower() for n in names}
    if "year" in low and "quarter" in low:
        return 4, "quarterly"
    if "year" in low and "month" in low:
        return 12, "monthly"
    return None


def _finite(value: Any) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


# ------------------------------------------------------------------------------------ CSV
def from_csv(rest: str, spec: str) -> Series:
    """``csv:PATH:COLUMN``: a numeric column of a CSV file with a header row. Every cell of the
    column must be a finite number (an empty cell is an error naming its line: fill it first)."""
    path_text, column = split_spec(rest, spec)
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise SeriesError(f"{path}: no such CSV file (series {spec!r})")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if not header:
            raise SeriesError(f"{path}:1: empty file; a CSV series needs a header row")
        header = [h.strip() for h in header]
        if column not in header:
            raise SeriesError(f"{path}:1: no column {column!r}; columns: {', '.join(header)}")
        j = header.index(column)
        values, rows = [], []
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            if len(row) != len(header):
                raise SeriesError(
                    f"{path}:{reader.line_num}: {len(row)} cell(s), the header has {len(header)}"
                )
            x = _finite(row[j])
            if x is None:
                raise SeriesError(
                    f"{path}:{reader.line_num}: column {column!r} holds {row[j]!r}, not a finite "
                    "number"
                )
            values.append(x)
            rows.append(row)
    if len(values) < 2:
        raise SeriesError(f"{path}: column {column!r} has {len(values)} value(s); need at least 2")
    period, freq, start = _csv_season(header, rows, j)
    return Series(
        spec,
        np.asarray(values, dtype=np.float64),
        freq,
        period,
        start,
        f"column {column!r} of {path} ({len(values)} values)",
    )


def _csv_season(header: list[str], rows: list[list[str]], value_col: int) -> tuple[int, str, str]:
    """(period, freq, start label) from the CSV's date column or year/quarter/month columns."""
    order = sorted(
        (i for i in range(len(header)) if i != value_col),
        key=lambda i: (header[i].lower() not in (*_DATE_NAMES, "year"), i),
    )
    for i in order:
        years = header[i].lower() == "year"
        dates = [parse_date(r[i], years=years) for r in rows]
        if all(d is not None for d in dates):
            found = infer_period([d for d in dates if d is not None])
            if found is not None:
                return found[0], found[1], rows[0][i].strip()
    by_cols = _from_columns(header)
    if by_cols is not None:
        return by_cols[0], by_cols[1], ""
    return 1, "unknown", ""


# ---------------------------------------------------------------------------- statsmodels
def from_statsmodels(rest: str, spec: str) -> Series:
    """``statsmodels:DATASET:COLUMN``: a column of a statsmodels dataset (offline). Interior
    missing values are linearly interpolated and missing ends dropped (as for the built-in co2)."""
    name, column = split_spec(rest, spec)
    ds = statsmodels_datasets()
    valid = sorted(n for n in getattr(ds, "__all__", []) if hasattr(getattr(ds, n), "load_pandas"))
    if name not in valid:
        raise SeriesError(f"no statsmodels dataset {name!r}; datasets: {', '.join(valid)}")
    frame = getattr(ds, name).load_pandas().data
    if not hasattr(frame, "columns"):  # some datasets load as a bare Series
        frame = frame.to_frame()
    columns = [str(c) for c in frame.columns]
    if column not in columns:
        raise SeriesError(f"{spec}: no column {column!r}; columns: {', '.join(columns)}")
    raw = list(frame[frame.columns[columns.index(column)]])
    values = np.full(len(raw), np.nan)
    for i, v in enumerate(raw):
        x = _finite(v)
        if x is None and not _missing(v):
            raise SeriesError(f"{spec}: row {i} holds {v!r}, not a number")
        values[i] = np.nan if x is None else x
    values, gaps = _fill(values, spec)
    period, freq, start = _frame_season(frame)
    note = f"; {gaps} missing value(s) interpolated" if gaps else ""
    return Series(spec, values, freq, period, start, f"statsmodels {name}, column {column}{note}")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _fill(values: np.ndarray, spec: str) -> tuple[np.ndarray, int]:
    ok = np.isfinite(values)
    if ok.sum() < 2:
        raise SeriesError(f"{spec}: fewer than 2 numeric values")
    first, last = np.flatnonzero(ok)[[0, -1]]
    y, ok = values[first : last + 1], ok[first : last + 1]
    t = np.arange(y.size)
    return np.interp(t, t[ok], y[ok]), int((~ok).sum())


def _frame_season(frame: Any) -> tuple[int, str, str]:
    index = frame.index
    if hasattr(index, "to_pydatetime"):
        dates = list(index.to_pydatetime())
        found = infer_period(dates)
        if found is not None:
            return found[0], found[1], str(dates[0].date())
    columns = [str(c) for c in frame.columns]
    by_cols = _from_columns(columns)
    year = next((c for c in frame.columns if str(c).lower() == "year"), None)
    start = "" if year is None else str(int(frame[year].iloc[0]))
    if by_cols is not None:
        return by_cols[0], by_cols[1], start
    if year is not None:
        return 1, "annual", start
    return 1, "unknown", ""
