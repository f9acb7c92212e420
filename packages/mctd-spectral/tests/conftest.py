"""Shared helpers for the mctd-spectral tests (as fixtures: tests run in importlib mode)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

AR1 = Callable[[int, float, np.random.Generator], np.ndarray]


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    """A stationary AR(1) sample x_t = phi x_{t-1} + e_t, e_t ~ N(0, 1) (200 burn-in steps)."""
    e = rng.standard_normal(n + 200)
    x = np.empty_like(e)
    x[0] = e[0]
    for t in range(1, e.size):
        x[t] = phi * x[t - 1] + e[t]
    return x[200:]


@pytest.fixture
def ar1() -> AR1:
    return _ar1


@pytest.fixture
def ar1_psd() -> Callable[[np.ndarray, float], np.ndarray]:
    """The AR(1) spectral density 1 / |1 - phi e^{-2 pi i f}|^2 (unnormalised)."""

    def psd(grid: np.ndarray, phi: float) -> np.ndarray:
        return 1.0 / np.abs(1.0 - phi * np.exp(-2j * np.pi * grid)) ** 2

    return psd
