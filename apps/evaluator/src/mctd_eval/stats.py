"""Means with 95% confidence intervals, the numbers every summary cell shows.

- Continuous metrics: Student-t interval, mean ± t_{0.975, n-1} · s / sqrt(n) (NaN for n < 2).
- Rates (success): Wilson score interval, which stays inside [0, 1] and is sane for small n.
- Metrics that cannot be negative (MMD, NFE, seconds, errors; `NON_NEGATIVE`): the t-interval on
  the log scale (delta method: log m ± t · s / (sqrt(n) · m)), mapped back, so it never goes below
  0 and keeps the t quantile's honesty at small n; shares in [0, 1] (`UNIT`): the same on the
  logit scale. Both are asymmetric around the mean; `estimate` picks the interval by metric name.
NaN values (a metric undefined for a row, e.g. MASE of an unparsable forecast) are left out and
the count of values actually used is reported beside the mean.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
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

    @property
    def symmetric(self) -> bool:
        """Whether the interval is mean ± half-width (a t-interval), so ± can show it."""
        up, down = self.hi - self.mean, self.mean - self.lo
        return not (abs(up - down) > 1e-9 * max(abs(up), abs(down), 1e-300))


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


# Metrics that cannot be negative, and shares bounded in [0, 1] (see the module docstring).
NON_NEGATIVE = frozenset(
    {
        "nfe",
        "calls",
        "prompt_nfe",
        "reward_nfe",
        "reward_calls",
        "wall_s",
        "eval_wall_s",
        "ppl",
        "length",
        "n_samples",
        "nodes",
        "max_depth",
        "mean_branching",
        "simulations",
        "iterations",
        "mae",
        "smape",
        "mase",
        "spectral",
        "mmd",
        "swd",
        "first_reach",
        "oracle_steps",
        "expansions",
        "reach_vs_oracle",
    }
)
UNIT = frozenset(
    {"distinct_1", "distinct_2", "dissimilarity", "coverage", "rejected_frac", "validity"}
)


def _transformed_ci(
    values: Iterable[float | None],
    f: Callable[[float], float],
    df: Callable[[float], float],
    inv: Callable[[float], float],
    lo: float,
    hi: float,
) -> Estimate:
    """A t-interval for the mean on the scale of ``f`` (delta method: se(f(m)) = f'(m) se(m)),
    mapped back with ``inv``; a mean on the range's edge (every value equal to it) has no width."""
    x = _finite(values)
    n = int(x.size)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, 0)
    if (x < lo).any() or (x > hi).any():  # not the metric we thought: no transform applies
        return mean_ci(x.tolist())
    m = float(x.mean())
    if n < 2:
        return Estimate(m, math.nan, math.nan, 1)
    if m <= lo or m >= hi:
        return Estimate(m, m, m, n)
    se = float(x.std(ddof=1) / math.sqrt(n))
    half = float(sps.t.ppf(0.975, n - 1)) * se * df(m)
    centre = f(m)
    return Estimate(m, max(lo, inv(centre - half)), min(hi, inv(centre + half)), n)


def positive_ci(values: Iterable[float | None]) -> Estimate:
    """Mean of a non-negative metric with a log-scale t-interval: never below 0."""
    return _transformed_ci(values, math.log, lambda m: 1.0 / m, math.exp, 0.0, math.inf)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def _expit(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def unit_ci(values: Iterable[float | None]) -> Estimate:
    """Mean of a share in [0, 1] with a logit-scale t-interval: stays inside [0, 1]."""
    return _transformed_ci(values, _logit, lambda m: 1.0 / (m * (1.0 - m)), _expit, 0.0, 1.0)


def estimate(name: str, values: Iterable[float | bool | None]) -> Estimate:
    """The right interval for metric ``name``: Wilson for ``success``, log- or logit-scale
    t-intervals for non-negative or unit metrics, a plain t-interval otherwise."""
    vals = [None if v is None else float(v) for v in values]
    if name == "success":
        return rate_ci(vals)
    if name in NON_NEGATIVE:
        return positive_ci(vals)
    if name in UNIT:
        return unit_ci(vals)
    return mean_ci(vals)
