"""mctd-spectral: spectral rewards, series<->text codecs, real series and forecast metrics.

numpy + scipy only (statsmodels, for the dataset loaders, is the optional ``data`` extra).
"""

from importlib.metadata import version as _version

from mctd_spectral.baselines import naive_forecast, seasonal_naive_forecast
from mctd_spectral.codec import Scaler, SeriesCodec
from mctd_spectral.datasets import (
    check_series_spec,
    list_series,
    load_series,
    register_series,
    series_from_values,
    train_test_split,
    unregister_series,
)
from mctd_spectral.distance import log_psd_distance, log_spectral_distance, spectral_distances
from mctd_spectral.metrics import (
    forecast_metrics,
    mae,
    mase,
    seasonal_naive_scale,
    smape,
    spectral_error,
)
from mctd_spectral.psd import (
    ReferencePSD,
    estimate_psd,
    estimate_psds,
    frequency_grid,
    periodogram_psd,
    reference_from_history,
    reference_psd,
    sliding_windows,
    welch_psd,
    welch_segment_length,
)
from mctd_spectral.reward import SpectralReward
from mctd_spectral.series import Series, SeriesError
from mctd_spectral.sources import infer_period

__version__ = _version("mctd-spectral")

__all__ = [
    "ReferencePSD",
    "Scaler",
    "Series",
    "SeriesCodec",
    "SeriesError",
    "SpectralReward",
    "check_series_spec",
    "estimate_psd",
    "estimate_psds",
    "forecast_metrics",
    "frequency_grid",
    "infer_period",
    "list_series",
    "load_series",
    "log_psd_distance",
    "log_spectral_distance",
    "mae",
    "mase",
    "naive_forecast",
    "periodogram_psd",
    "reference_from_history",
    "reference_psd",
    "register_series",
    "seasonal_naive_forecast",
    "seasonal_naive_scale",
    "series_from_values",
    "sliding_windows",
    "smape",
    "spectral_distances",
    "spectral_error",
    "train_test_split",
    "unregister_series",
    "welch_psd",
    "welch_segment_length",
]
