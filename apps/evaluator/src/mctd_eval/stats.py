"""Means with 95% confidence intervals, the numbers every summary cell shows.

- Continuous metrics: Student-t interval, mean ± t_{0.975, n-1} · s / sqrt(n) (NaN for n < 2).
- Rates (success): Wilson score interval, which stays inside [0, 1] and is sane for small n.
NaN values (a metric undefined for a row, e.g. MASE of an unparsable forecast) are left out and
the count of values actually used is reported beside the mean.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A mean, its 95% interval [lo, hi] and the number of finite values it rests on."""

    mean: float
    lo: float
    hi: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.hi - self.lo) / 2.0


def _finite(values: Iterable[float | None]) -> np.ndarray:
    x = np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    return x[np.isfinite(x)]


def mean_ci(values: Iterable[float | None]) -> Estimate:
    """Mean and Student-t 95% interval of the finite values."""
    x = _finite(values)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, 1)
    half = float(sps.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return Estimate(m, m - half, m + half, n)


def rate_ci(values: Iterable[float | bool | None]) -> Estimate:
    """Success rate and its Wilson 95% interval."""
    x = _finite(None if v is None else float(v) for v in values)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    p = float(x.mean())
    z2 = Z95**2
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Estimate(p, max(0.0, centre - half), min(1.0, centre + half), n)
