"""Model-free reference forecasts, the yardsticks of any forecasting table.

- naive: yhat_{T+h} = y_T (the last observed value, held);
- seasonal naive with season m: yhat_{T+h} = y_{T+h-m(k+1)}, k = floor((h-1)/m) (the last
  observed season, repeated; m = 1 is the naive forecast). Hyndman & Athanasopoulos, FPP §5.2.

MASE divides a forecast's MAE by the in-sample MAE of the one-step seasonal-naive forecast
(`metrics.seasonal_naive_scale`), so the seasonal-naive forecast of the *future* scores about 1
when the series behaves as it did in the past.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series


def _horizon(horizon: int) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    return int(horizon)


def naive_forecast(history: ArrayLike, horizon: int) -> np.ndarray:
    """The last value of ``history``, repeated ``horizon`` times."""
    y = as_series(history, name="history")
    return np.full(_horizon(horizon), y[-1])


def seasonal_naive_forecast(history: ArrayLike, horizon: int, m: int = 1) -> np.ndarray:
    """The last season (``m`` values) of ``history``, repeated over ``horizon`` steps."""
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"season m must be a positive integer, got {m!r}")
    y = as_series(history, name="history", min_length=m)
    h = np.arange(1, _horizon(horizon) + 1)
    return y[y.size - 1 + h - m * ((h - 1) // m + 1)].copy()
