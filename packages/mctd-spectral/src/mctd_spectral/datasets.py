"""Real series, offline: built-ins from statsmodels' bundled datasets, any statsmodels column
(``statsmodels:DATASET:COLUMN``), a CSV column (``csv:PATH:COLUMN``) or your own series
(`register_series`); with train/forecast splits.

statsmodels is an optional dependency (the ``data`` extra: ``pip install 'mctd-spectral[data]'``)
and is imported only when a statsmodels series is loaded; CSV files need only the standard library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace as replace_fields
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series
from mctd_spectral.series import Series, SeriesError, statsmodels_datasets
from mctd_spectral.sources import from_csv, from_statsmodels, split_spec


def _frame(module: str) -> Any:
    return getattr(statsmodels_datasets(), module).load_pandas().data


def _sunspots() -> Series:
    d = _frame("sunspots")
    return Series(
        "sunspots",
        d["SUNACTIVITY"].to_numpy(np.float64),
        "annual",
        1,
        str(int(d["YEAR"].iloc[0])),
        "Yearly mean sunspot number, 1700-2008 (about an 11-year cycle).",
    )


def _co2() -> Series:
    d = _frame("co2")
    y = d["co2"].to_numpy(np.float64)
    t = np.arange(y.size)
    ok = np.isfinite(y)
    y = np.interp(t, t[ok], y[ok])  # linear interpolation over the gaps (ends are held)
    return Series(
        "co2",
        y,
        "weekly",
        52,
        str(d.index[0].date()),
        "Weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001; missing weeks linearly "
        "interpolated.",
    )


def _nile() -> Series:
    d = _frame("nile")
    return Series(
        "nile",
        d["volume"].to_numpy(np.float64),
        "annual",
        1,
        str(int(d["year"].iloc[0])),
        "Yearly Nile flow at Aswan (1e8 m^3), 1871-1970.",
    )


def _elnino() -> Series:
    d = _frame("elnino")
    months = [c for c in d.columns if c != "YEAR"]
    y = d[months].to_numpy(np.float64).reshape(-1)  # row-major: Jan..Dec of each year in turn
    return Series(
        "elnino",
        y,
        "monthly",
        12,
        f"{int(d['YEAR'].iloc[0])}-01",
        "Monthly sea surface temperature (C) of the El Nino region, 1950-2010, flattened.",
    )


def _macro(column: str, description: str) -> Callable[[], Series]:
    def load() -> Series:
        d = _frame("macrodata")
        return Series(
            column,
            d[column].to_numpy(np.float64),
            "quarterly",
            4,
            f"{int(d['year'].iloc[0])}Q{int(d['quarter'].iloc[0])}",
            description + " US macrodata, 1959Q1-2009Q3.",
        )

    return load


_BUILTIN: dict[str, Callable[[], Series]] = {
    "sunspots": _sunspots,
    "co2": _co2,
    "nile": _nile,
    "elnino": _elnino,
    "realgdp": _macro("realgdp", "Real GDP (billions of chained 2005 USD)."),
    "cpi": _macro("cpi", "Consumer price index."),
    "unemp": _macro("unemp", "Unemployment rate (%)."),
}
_REGISTERED: dict[str, Callable[[], Series]] = {}


def list_series() -> list[str]:
    """Names accepted by :func:`load_series`: the built-in series and those registered with
    :func:`register_series` (``statsmodels:`` and ``csv:`` specs are accepted too, not listed)."""
    return sorted({**_BUILTIN, **_REGISTERED})


def register_series(
    name: str, source: Series | Callable[[], Series], *, replace: bool = False
) -> None:
    """Make ``name`` loadable by :func:`load_series` (and so by ``forecast.series``).

    ``source`` is a `Series` or a zero-argument function returning one (called at each load, so a
    loader can read a file lazily). Names hold no ``:`` (that prefix is for specs); a built-in or
    already registered name is refused unless ``replace``.
    """
    if not name or ":" in name:
        raise ValueError(f"a series name must be non-empty and hold no ':', got {name!r}")
    if not replace and (name in _BUILTIN or name in _REGISTERED):
        raise ValueError(f"series {name!r} exists already; pass replace=True to replace it")
    if isinstance(source, Series):
        values = as_series(source.values, name=f"series {name!r}", min_length=2)
        fixed = replace_fields(source, name=name, values=values)
        _REGISTERED[name] = lambda: fixed
    elif callable(source):
        _REGISTERED[name] = source
    else:
        raise TypeError(
            f"register_series takes a Series or a function returning one, not {source!r}"
        )


def unregister_series(name: str) -> None:
    """Remove a series added by :func:`register_series` (built-ins stay)."""
    _REGISTERED.pop(name, None)


def series_from_values(
    name: str,
    values: ArrayLike,
    *,
    period: int = 1,
    freq: str = "unknown",
    start: str = "",
    description: str = "",
) -> Series:
    """A `Series` from plain values (finite, at least 2), e.g. to pass to `register_series`."""
    _check_period(period)
    x = as_series(values, name=f"series {name!r}", min_length=2)
    return Series(name, x, freq, int(period), start, description or f"{x.size} values")


def load_series(spec: str, *, period: int | None = None) -> Series:
    """Load a series (offline) by spec:

    - a built-in name (:func:`list_series`) or one added with :func:`register_series`;
    - ``statsmodels:DATASET:COLUMN``: a column of a dataset bundled with statsmodels (the ``data``
      extra), e.g. ``statsmodels:danish_data:lrm``;
    - ``csv:PATH:COLUMN``: a numeric column of a CSV file with a header row.

    ``period`` (the season m, >= 1) overrides the series' own; otherwise it is inferred from the
    data's dates where they say it (a dated index or date column: quarterly 4, monthly 12, weekly
    52, daily 7, hourly 24; year and quarter/month columns), else 1 (see `sources.infer_period`).
    Bad input raises `SeriesError` (a ValueError) naming the file and line where it can.
    """
    if period is not None:
        _check_period(period)
    kind, sep, rest = spec.partition(":")
    if sep and kind in _SOURCES:
        series = _SOURCES[kind](rest, spec)
    elif spec in _REGISTERED or spec in _BUILTIN:
        series = (_REGISTERED.get(spec) or _BUILTIN[spec])()
    else:
        raise SeriesError(
            f"unknown series {spec!r}; choose one of {', '.join(list_series())}, or "
            "statsmodels:DATASET:COLUMN or csv:PATH:COLUMN"
        )
    return series if period is None else replace_fields(series, period=int(period))


def check_series_spec(spec: str) -> None:
    """Raise `SeriesError` if ``spec`` is neither a known name nor a well-formed source spec
    (no data is read)."""
    kind, sep, rest = spec.partition(":")
    if sep and kind in _SOURCES:
        split_spec(rest, spec)
    elif spec not in _REGISTERED and spec not in _BUILTIN:
        load_series(spec)  # raises the "unknown series" error


def _check_period(period: int) -> None:
    if isinstance(period, bool) or not isinstance(period, int | np.integer) or period < 1:
        raise SeriesError(f"a series period must be an integer >= 1, got {period!r}")


_SOURCES: dict[str, Callable[[str, str], Series]] = {
    "statsmodels": from_statsmodels,
    "csv": from_csv,
}


def train_test_split(series: Series | ArrayLike, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """(history, future): the last ``horizon`` values are the future to forecast."""
    values = series.values if isinstance(series, Series) else series
    x = as_series(values, name="series", min_length=2)
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer):
        raise ValueError(f"horizon must be an integer, got {horizon!r}")
    if not 1 <= horizon < x.size:
        raise ValueError(
            f"horizon must be in [1, {x.size - 1}] for a series of length {x.size} "
            f"(got {horizon}); at least one value must remain as history"
        )
    return x[: x.size - horizon].copy(), x[x.size - horizon :].copy()
