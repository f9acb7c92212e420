"""mctd-spectral: spectral rewards, series<->text codecs, real series and forecast metrics.

numpy + scipy only (statsmodels, for the dataset loaders, is the optional ``data`` extra).
"""

from mctd_spectral.codec import Scaler, SeriesCodec
from mctd_spectral.datasets import Series, list_series, load_series, train_test_split
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

__version__ = "0.1.0"

__all__ = [
    "ReferencePSD",
    "Scaler",
    "Series",
    "SeriesCodec",
    "SpectralReward",
    "estimate_psd",
    "estimate_psds",
    "forecast_metrics",
    "frequency_grid",
    "list_series",
    "load_series",
    "log_psd_distance",
    "log_spectral_distance",
    "mae",
    "mase",
    "periodogram_psd",
    "reference_from_history",
    "reference_psd",
    "seasonal_naive_scale",
    "sliding_windows",
    "smape",
    "spectral_distances",
    "spectral_error",
    "train_test_split",
    "welch_psd",
    "welch_segment_length",
]
