"""Forecast accuracy metrics: MAE, sMAPE, MASE and spectral distance to the truth.

These use the ground truth and are for evaluation only; they never feed a search reward.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series
from mctd_spectral.distance import DEFAULT_REL_FLOOR, log_spectral_distance
from mctd_spectral.psd import Detrend, Method


def _pair(y_true: ArrayLike, y_pred: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = as_series(y_true, name="y_true")
    p = as_series(y_pred, name="y_pred")
    if t.shape != p.shape:
        raise ValueError(
            f"y_true has {t.size} values but y_pred has {p.size}; compare forecasts of the "
            "same horizon"
        )
    return t, p


def mae(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean absolute error: mean_t |y_t - yhat_t|."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


def smape(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Symmetric MAPE in percent, in [0, 200]: 100/n * sum_t 2|y_t - yhat_t| / (|y_t| + |yhat_t|).

    A term with y_t = yhat_t = 0 is 0 (a perfect forecast of zero), not 0/0.
    """
    t, p = _pair(y_true, y_pred)
    num = 2.0 * np.abs(t - p)
    den = np.abs(t) + np.abs(p)
    terms = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(100.0 * np.mean(terms))


def seasonal_naive_scale(y_train: ArrayLike, m: int = 1) -> float:
    """MASE's scale: mean_t |y_t - y_{t-m}| over the training series (in-sample seasonal naive)."""
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"season m must be a positive integer, got {m!r}")
    y = as_series(y_train, name="y_train")
    if y.size <= m:
        raise ValueError(
            f"y_train has {y.size} values, too short for a seasonal-naive scale with m={m}: "
            f"need at least {m + 1}; pass more history or a smaller m"
        )
    scale = float(np.mean(np.abs(y[m:] - y[:-m])))
    if scale == 0.0:
        raise ValueError(
            f"the seasonal-naive scale of y_train is 0 (the series repeats exactly with period "
            f"m={m}), so MASE is undefined; use MAE, or a different m"
        )
    return scale


def mase(y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, m: int = 1) -> float:
    """Mean absolute scaled error: MAE / seasonal_naive_scale(y_train, m)."""
    return mae(y_true, y_pred) / seasonal_naive_scale(y_train, m)


def spectral_error(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    method: Method = "welch",
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
    rel_floor: float = DEFAULT_REL_FLOOR,
) -> float:
    """Log-PSD distance D(y_pred, y_true) of the forecast from the truth's spectrum.

    Needs at least 4 values and a truth that is not constant (ValueError otherwise).
    """
    _pair(y_true, y_pred)
    return log_spectral_distance(
        y_pred,
        y_true,
        method=method,
        nperseg=nperseg,
        normalize=normalize,
        detrend=detrend,
        rel_floor=rel_floor,
    )


def forecast_metrics(
    y_true: ArrayLike, y_pred: ArrayLike, y_train: ArrayLike, m: int = 1
) -> dict[str, float]:
    """All four metrics at once, for result tables.

    MAE and sMAPE raise on bad input like their functions; MASE and the spectral error are NaN
    where they are undefined for otherwise valid input (zero or too-short seasonal-naive scale;
    a horizon under 4 or a constant truth).
    """
    out = {"mae": mae(y_true, y_pred), "smape": smape(y_true, y_pred)}
    as_series(y_train, name="y_train")
    if isinstance(m, bool) or not isinstance(m, int | np.integer) or m < 1:
        raise ValueError(f"season m must be a positive integer, got {m!r}")
    try:
        out["mase"] = mase(y_true, y_pred, y_train, m)
    except ValueError:
        out["mase"] = float("nan")
    try:
        out["spectral"] = spectral_error(y_true, y_pred)
    except ValueError:
        out["spectral"] = float("nan")
    return out
