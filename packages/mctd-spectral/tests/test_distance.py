from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from mctd_spectral import (
    ReferencePSD,
    estimate_psd,
    frequency_grid,
    log_psd_distance,
    log_spectral_distance,
    reference_psd,
    spectral_distances,
)
from mctd_spectral.distance import DEFAULT_REL_FLOOR
from scipy.integrate import trapezoid

series = st.lists(
    st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False), min_size=4, max_size=300
).map(np.array)


@settings(max_examples=60, deadline=None)
@given(x=series, method=st.sampled_from(["welch", "periodogram"]))
def test_distance_to_itself_is_zero(x: np.ndarray, method: str) -> None:
    assume(np.std(x) > 1e-6 * np.max(np.abs(x)))  # a fluctuating series (a constant one has no PSD)
    # ... whose fluctuation the estimator sees (Welch drops a tail that does not fill a segment)
    assume(np.any(estimate_psd(x, method=method) > 0))
    assert log_spectral_distance(x, x, method=method) == 0.0  # type: ignore[arg-type]


def test_distance_is_nonnegative_and_shape_only() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal(120), np.cumsum(rng.standard_normal(90))
    d = log_spectral_distance(x, y)
    assert d > 0.3
    assert log_spectral_distance(5.0 * x - 2.0, y) == pytest.approx(d)
    assert log_spectral_distance(x, 0.1 * y + 9.0) == pytest.approx(d)


def test_closed_form_constant_log_ratio() -> None:
    """S_x = e * S_ref everywhere: |log ratio| = 1 on [0, 0.5], so D = 0.5."""
    grid = frequency_grid(33)
    s_ref = 1.0 + grid
    assert float(log_psd_distance(np.e * s_ref, s_ref, grid)) == pytest.approx(0.5)
    # Batched: one distance per row.
    d = log_psd_distance(np.stack([s_ref, np.e**2 * s_ref]), s_ref, grid)
    np.testing.assert_allclose(d, [0.0, 1.0])


def test_floor_bounds_the_cost_of_zero_power() -> None:
    """A constant candidate (PSD = 0) costs exactly the floored log ratio, a finite number."""
    grid = frequency_grid()
    rng = np.random.default_rng(1)
    ref = reference_psd([rng.standard_normal(200)])
    d = spectral_distances([np.full(50, 3.0)], ref)[0]
    floor = DEFAULT_REL_FLOOR * ref.power.max()
    expected = trapezoid(np.abs(np.log(floor) - np.log(np.maximum(ref.power, floor))), grid)
    assert d == pytest.approx(expected)
    assert np.isfinite(d) and d > 5.0
    # A larger floor caps it lower.
    assert spectral_distances([np.full(50, 3.0)], ref, rel_floor=1e-2)[0] < d


def test_length_invariance_ar1(
    ar1: Callable[..., np.ndarray], ar1_psd: Callable[..., np.ndarray]
) -> None:
    """Same AR(1) process at lengths 512 and 4096: D to the true spectrum changes by < 0.1.

    (A different process, white noise, is > 0.4 away at either length.) Means over 6 draws.
    """
    rng = np.random.default_rng(2)
    grid = frequency_grid()
    ref = ReferencePSD(grid, ar1_psd(grid, 0.7))  # normalize=True: scale of power is irrelevant
    d_short = spectral_distances([ar1(512, 0.7, rng) for _ in range(6)], ref).mean()
    d_long = spectral_distances([ar1(4096, 0.7, rng) for _ in range(6)], ref).mean()
    assert abs(d_short - d_long) < 0.1
    assert max(d_short, d_long) < 0.2
    d_white = spectral_distances([rng.standard_normal(n) for n in (512, 4096)], ref)
    assert np.all(d_white > 0.4)


def test_length_invariance_sinusoid_plus_noise() -> None:
    """Sinusoid (f = 0.07) + noise at 500 and 2000 samples: D < 0.2; white noise is > 0.4."""
    rng = np.random.default_rng(3)

    def sample(n: int) -> np.ndarray:
        t = np.arange(n)
        return np.sin(2 * np.pi * 0.07 * t + rng.uniform(0, 6)) + 0.5 * rng.standard_normal(n)

    long = sample(2000)
    assert log_spectral_distance(sample(500), long) < 0.2
    assert log_spectral_distance(sample(2000), sample(500)) < 0.2
    assert log_spectral_distance(rng.standard_normal(500), long) > 0.4


def test_reference_series_must_fluctuate_and_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="constant"):
        log_spectral_distance(np.arange(10.0), np.ones(10))
    grid = frequency_grid(5)
    with pytest.raises(ValueError, match="same grid"):
        log_psd_distance(np.ones(4), np.ones(5), grid)
    with pytest.raises(ValueError, match="identically zero"):
        log_psd_distance(np.ones(5), np.zeros(5), grid)
    with pytest.raises(ValueError, match="rel_floor"):
        log_psd_distance(np.ones(5), np.ones(5), grid, rel_floor=0.0)
    with pytest.raises(ValueError, match="too short"):
        log_spectral_distance(np.arange(3.0), np.arange(10.0))


def test_empty_batch_gives_empty_distances() -> None:
    ref = reference_psd([np.random.default_rng(4).standard_normal(30)])
    assert spectral_distances([], ref).shape == (0,)
