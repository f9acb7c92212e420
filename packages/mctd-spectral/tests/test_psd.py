from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from mctd_spectral import (
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
from scipy.integrate import trapezoid

FINE = frequency_grid(2001)


@pytest.mark.parametrize("method", ["welch", "periodogram"])
@pytest.mark.parametrize("n", [48, 256, 1000])
@pytest.mark.parametrize("f0", [0.05, 0.137, 0.31])
def test_sinusoid_psd_peaks_at_its_frequency(method: str, n: int, f0: float) -> None:
    t = np.arange(n)
    x = 3.0 * np.sin(2 * np.pi * f0 * t + 0.4) + 7.0
    p = estimate_psd(x, method=method, grid=FINE)  # type: ignore[arg-type]
    peak = FINE[np.argmax(p)]
    # The estimator's frequency resolution: one native bin.
    resolution = 1.0 / (n if method == "periodogram" else welch_segment_length(n))
    assert abs(peak - f0) <= resolution
    # ... and it is a real peak, not a flat spectrum.
    assert p.max() > 20 * np.median(p)


def test_wrappers_match_estimate_psd() -> None:
    x = np.random.default_rng(0).standard_normal(100)
    np.testing.assert_array_equal(welch_psd(x), estimate_psd(x, method="welch"))
    np.testing.assert_array_equal(periodogram_psd(x), estimate_psd(x, method="periodogram"))


@pytest.mark.parametrize("method", ["welch", "periodogram"])
def test_normalised_psd_integrates_to_one_and_ignores_scale(method: str) -> None:
    x = np.random.default_rng(1).standard_normal(300)
    grid = frequency_grid()
    p = estimate_psd(x, method=method, grid=grid)  # type: ignore[arg-type]
    assert trapezoid(p, grid) == pytest.approx(1.0)
    q = estimate_psd(-10.0 * x + 5.0, method=method, grid=grid)  # type: ignore[arg-type]
    np.testing.assert_allclose(p, q, rtol=1e-9)
    raw = estimate_psd(10.0 * x, method=method, normalize=False)  # type: ignore[arg-type]
    raw1 = estimate_psd(x, method=method, normalize=False)  # type: ignore[arg-type]
    np.testing.assert_allclose(raw, 100.0 * raw1, rtol=1e-9)


def test_unnormalised_psd_integrates_to_about_the_variance() -> None:
    x = np.random.default_rng(2).standard_normal(4096) * 2.0
    p = estimate_psd(x, method="periodogram", grid=frequency_grid(4097), normalize=False)
    assert trapezoid(p, frequency_grid(4097)) == pytest.approx(np.var(x), rel=0.05)


@pytest.mark.parametrize("method", ["welch", "periodogram"])
@pytest.mark.parametrize("normalize", [True, False])
def test_constant_series_has_identically_zero_psd(method: str, normalize: bool) -> None:
    """Documented value: no fluctuation, no power at any frequency (not NaN, not an error)."""
    for c in (0.0, 0.1, -3.7e5):
        p = estimate_psd(np.full(50, c), method=method, normalize=normalize)  # type: ignore[arg-type]
        np.testing.assert_array_equal(p, 0.0)
    line = 0.3 * np.arange(40) + 2.0
    p = estimate_psd(line, method=method, detrend="linear", normalize=normalize)  # type: ignore[arg-type]
    np.testing.assert_array_equal(p, 0.0)
    assert estimate_psd(line, method=method).max() > 0  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([], "empty"),
        ([1.0, np.nan, 2.0, 3.0, 4.0], "NaN"),
        ([1.0, np.inf, 2.0, 3.0, 4.0], "NaN/inf"),
        ([1.0, 2.0, 3.0], "too short.*at least 4"),
        (np.ones((3, 5)), "1-D"),
        (["a", "b", "c", "d"], "could not convert"),
    ],
)
def test_bad_series_raise_clear_errors(bad: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        estimate_psd(bad)  # type: ignore[arg-type]


def test_bad_settings_raise() -> None:
    x = np.arange(10.0)
    with pytest.raises(ValueError, match="method"):
        estimate_psd(x, method="fft")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="detrend"):
        estimate_psd(x, detrend="quadratic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="nperseg"):
        estimate_psd(x, nperseg=2)
    with pytest.raises(ValueError, match="increasing"):
        estimate_psd(x, grid=[0.3, 0.1])
    with pytest.raises(ValueError, match=r"\[0, 0.5\]"):
        estimate_psd(x, grid=[0.1, 0.9])
    with pytest.raises(ValueError, match="at least 2"):
        frequency_grid(1)


def test_batch_of_mixed_lengths_matches_single_estimates() -> None:
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(n) for n in (30, 64, 30, 200, 4)]
    batch = estimate_psds(xs)
    assert batch.shape == (5, frequency_grid().size)
    for x, row in zip(xs, batch, strict=True):
        np.testing.assert_allclose(row, estimate_psd(x), rtol=1e-12)


def test_welch_segment_length_policy() -> None:
    assert welch_segment_length(5) == 5
    assert welch_segment_length(24) == 8
    assert welch_segment_length(96) == 32
    assert welch_segment_length(10_000) == 64
    assert welch_segment_length(30, 128) == 30


def test_sliding_windows_cover_the_end() -> None:
    x = np.arange(10.0)
    w = sliding_windows(x, 4, step=3)
    assert [list(v) for v in w] == [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]
    w = sliding_windows(x, 4)  # default step 2; 10 - 4 = 6 is a multiple of 2
    assert [v[0] for v in w] == [0, 2, 4, 6]
    w = sliding_windows(np.arange(11.0), 4, step=4)
    assert [v[0] for v in w] == [0, 4, 7]  # last window aligned to the end
    with pytest.raises(ValueError, match="longer than the series"):
        sliding_windows(x, 11)
    with pytest.raises(ValueError, match="at least 4"):
        sliding_windows(x, 3)
    with pytest.raises(ValueError, match="step"):
        sliding_windows(x, 4, step=0)


def test_reference_is_the_mean_psd_of_the_corpus() -> None:
    rng = np.random.default_rng(4)
    corpus = [rng.standard_normal(n) for n in (40, 50, 60)]
    ref = reference_psd(corpus, method="periodogram")
    np.testing.assert_allclose(ref.power, estimate_psds(corpus, method="periodogram").mean(0))
    assert ref.n_series == 3
    assert ref.method == "periodogram"
    np.testing.assert_allclose(
        ref.psds(corpus[:1])[0], estimate_psd(corpus[0], method="periodogram")
    )


def test_reference_from_history_uses_windows_of_the_horizon(ar1: Callable[..., np.ndarray]) -> None:
    h = ar1(500, 0.8, np.random.default_rng(5))
    ref = reference_from_history(h, 24, step=12)
    windows = sliding_windows(h, 24, step=12)
    np.testing.assert_allclose(ref.power, estimate_psds(windows).mean(0))
    assert ref.n_series == len(windows)


def test_reference_needs_power() -> None:
    with pytest.raises(ValueError, match="constant"):
        reference_psd([np.ones(20), np.full(30, 2.0)])
    with pytest.raises(ValueError, match="empty"):
        reference_psd([])
    with pytest.raises(ValueError, match="shape"):
        ReferencePSD(frequency_grid(5), np.ones(4))
    with pytest.raises(ValueError, match="non-negative"):
        ReferencePSD(frequency_grid(3), np.array([1.0, -1.0, 1.0]))
