from __future__ import annotations

import math

import numpy as np
import pytest
from mctd_spectral import (
    forecast_metrics,
    mae,
    mase,
    seasonal_naive_scale,
    smape,
    spectral_error,
)

Y = [1.0, 2.0, 3.0, 4.0]
YHAT = [2.0, 2.0, 2.0, 2.0]
TRAIN = [1.0, 3.0, 2.0, 4.0, 3.0]


def test_hand_computed_values() -> None:
    assert mae(Y, YHAT) == pytest.approx((1 + 0 + 1 + 2) / 4)
    # 100/4 * (2*1/3 + 0 + 2*1/5 + 2*2/6)
    assert smape(Y, YHAT) == pytest.approx(25 * (2 / 3 + 0 + 2 / 5 + 4 / 6))
    # m=1: |3-1|, |2-3|, |4-2|, |3-4| -> mean 1.5; m=2: |2-1|, |4-3|, |3-2| -> 1.
    assert seasonal_naive_scale(TRAIN, 1) == pytest.approx(1.5)
    assert seasonal_naive_scale(TRAIN, 2) == pytest.approx(1.0)
    assert mase(Y, YHAT, TRAIN) == pytest.approx(1.0 / 1.5)
    assert mase(Y, YHAT, TRAIN, m=2) == pytest.approx(1.0)


def test_smape_zero_over_zero_and_bounds() -> None:
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert smape([0.0], [1.0]) == pytest.approx(200.0)
    assert smape([0.0, 0.0], [0.0, 5.0]) == pytest.approx(100.0)
    assert smape([-2.0], [2.0]) == pytest.approx(200.0)


def test_mase_undefined_cases_raise_clearly() -> None:
    with pytest.raises(ValueError, match=r"scale.*is 0"):
        mase(Y, YHAT, [5.0, 5.0, 5.0])
    with pytest.raises(ValueError, match=r"scale.*is 0"):
        mase(Y, YHAT, [1.0, 2.0, 1.0, 2.0, 1.0], m=2)  # exactly periodic with m=2
    with pytest.raises(ValueError, match=r"too short.*m=4"):
        mase(Y, YHAT, [1.0, 2.0, 3.0, 4.0], m=4)
    with pytest.raises(ValueError, match="season m"):
        mase(Y, YHAT, TRAIN, m=0)


@pytest.mark.parametrize("metric", [mae, smape])
def test_bad_forecast_input(metric: object) -> None:
    f = metric  # type: ignore[assignment]
    with pytest.raises(ValueError, match="empty"):
        f([], [])  # type: ignore[operator]
    with pytest.raises(ValueError, match="NaN"):
        f([1.0, 2.0], [1.0, np.nan])  # type: ignore[operator]
    with pytest.raises(ValueError, match="same horizon"):
        f([1.0, 2.0], [1.0, 2.0, 3.0])  # type: ignore[operator]


def test_spectral_error() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(48)
    truth = np.sin(2 * np.pi * t / 12) + 0.1 * rng.standard_normal(48)
    assert spectral_error(truth, truth) == 0.0
    # Wrong phase, right spectrum (peak and noise floor: log-PSD distances weigh both).
    shifted = np.sin(2 * np.pi * (t + 3) / 12) + 0.1 * rng.standard_normal(48)
    noise = rng.standard_normal(48)
    assert spectral_error(truth, shifted) < 0.5 * spectral_error(truth, noise)
    with pytest.raises(ValueError, match="constant"):
        spectral_error(np.ones(10), np.arange(10.0))
    with pytest.raises(ValueError, match="too short"):
        spectral_error([1.0, 2.0, 3.0], [1.0, 2.0, 2.0])


def test_forecast_metrics_table_row() -> None:
    row = forecast_metrics(Y, YHAT, TRAIN)
    assert row["mae"] == pytest.approx(1.0)
    assert row["mase"] == pytest.approx(1 / 1.5)
    assert row["spectral"] == pytest.approx(spectral_error(Y, YHAT))
    row = forecast_metrics([1.0, 2.0], [1.0, 2.0], [3.0, 3.0])
    assert math.isnan(row["mase"]) and math.isnan(row["spectral"])
    assert row["mae"] == 0.0 and row["smape"] == 0.0
    with pytest.raises(ValueError, match="y_train"):
        forecast_metrics(Y, YHAT, [1.0, np.nan])


def test_naive_and_seasonal_naive_forecasts_by_hand() -> None:
    from mctd_spectral import naive_forecast, seasonal_naive_forecast

    y = [1.0, 5.0, 2.0, 6.0, 3.0, 7.0]
    assert naive_forecast(y, 3).tolist() == [7.0, 7.0, 7.0]
    assert seasonal_naive_forecast(y, 5, m=2).tolist() == [3.0, 7.0, 3.0, 7.0, 3.0]
    assert seasonal_naive_forecast(y, 4, m=3).tolist() == [6.0, 3.0, 7.0, 6.0]
    assert seasonal_naive_forecast(y, 2, m=1).tolist() == naive_forecast(y, 2).tolist()
    with pytest.raises(ValueError, match="horizon"):
        naive_forecast(y, 0)
    with pytest.raises(ValueError, match="too short"):
        seasonal_naive_forecast([1.0], 2, m=2)
