"""Real series from statsmodels' bundled datasets (offline), with train/forecast splits.

statsmodels is an optional dependency (the ``data`` extra: ``pip install 'mctd-spectral[data]'``)
and is imported only when a series is loaded.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series


@dataclass(frozen=True)
class Series:
    """A named real series.

    ``freq``: sampling interval ("annual", "quarterly", "monthly", "weekly"). ``period``: the
    seasonal period m used by MASE's seasonal-naive scale (1 = none). ``start``: label of the first
    observation.
    """

    name: str
    values: np.ndarray
    freq: str
    period: int
    start: str
    description: str

    def __len__(self) -> int:
        return int(self.values.size)


def _statsmodels_datasets() -> ModuleType:
    try:
        return importlib.import_module("statsmodels.datasets")
    except ImportError as exc:
        raise ImportError(
            "mctd_spectral.datasets needs statsmodels, which is an optional dependency: install "
            "the 'data' extra, e.g. `pip install 'mctd-spectral[data]'` or "
            "`uv sync --package mctd-spectral --extra data`"
        ) from exc


def _frame(module: str) -> Any:
    return getattr(_statsmodels_datasets(), module).load_pandas().data


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


_LOADERS: dict[str, Callable[[], Series]] = {
    "sunspots": _sunspots,
    "co2": _co2,
    "nile": _nile,
    "elnino": _elnino,
    "realgdp": _macro("realgdp", "Real GDP (billions of chained 2005 USD)."),
    "cpi": _macro("cpi", "Consumer price index."),
    "unemp": _macro("unemp", "Unemployment rate (%)."),
}


def list_series() -> list[str]:
    """Names accepted by :func:`load_series`."""
    return sorted(_LOADERS)


def load_series(name: str) -> Series:
    """Load a named real series (offline, from statsmodels' bundled data)."""
    try:
        loader = _LOADERS[name]
    except KeyError:
        raise ValueError(
            f"unknown series {name!r}; choose one of {', '.join(list_series())}"
        ) from None
    return loader()


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
