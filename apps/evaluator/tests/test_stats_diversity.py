"""Confidence intervals and diversity metrics on hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_eval.diversity import distinct_n, diversity, pairwise_dissimilarity
from mctd_eval.stats import Estimate, mean_ci, rate_ci


def test_mean_ci_matches_t_interval() -> None:
    e = mean_ci([1.0, 2.0, 3.0, None, float("nan")])
    assert e.n == 3 and e.mean == pytest.approx(2.0)
    # t_{0.975,2} = 4.302653, s = 1, sqrt(3)
    assert e.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)


def test_mean_ci_small_samples() -> None:
    assert math.isnan(mean_ci([]).mean)
    one = mean_ci([5.0])
    assert one.mean == 5.0 and math.isnan(one.lo) and one.n == 1


def test_wilson_interval_stays_in_unit_range() -> None:
    e = rate_ci([1, 1, 1, 1])
    assert e.mean == 1.0 and e.hi == 1.0 and 0.4 < e.lo < 0.6  # Wilson: 0.510
    assert rate_ci([0, 0]).lo == 0.0
    assert rate_ci([True, False]).mean == 0.5


def test_distinct_n_across_samples() -> None:
    assert distinct_n([[1, 2, 3], [1, 2, 3]], 1) == pytest.approx(3 / 6)
    assert distinct_n([[1, 2], [3, 4]], 2) == 1.0
    assert math.isnan(distinct_n([[1]], 2))


def test_pairwise_dissimilarity() -> None:
    assert pairwise_dissimilarity([[1, 2], [1, 2], [1, 2]]) == 0.0
    assert pairwise_dissimilarity([[1, 2], [3, 4]]) == 1.0
    # {1,2,(1,2)} vs {1,3,(1,3)}: |and| = 1, |or| = 5
    assert pairwise_dissimilarity([[1, 2], [1, 3]]) == pytest.approx(1 - 1 / 5)
    assert math.isnan(pairwise_dissimilarity([[1, 2]]))


def test_diversity_uses_at_most_max_samples() -> None:
    d = diversity([[1, 2]] * 3 + [[5, 6]], max_samples=3)
    assert d["dissimilarity"] == 0.0


def test_non_negative_interval_never_below_zero() -> None:
    """MMD-like values where the t-interval goes below 0 (n = 3): the log-scale one does not."""
    from mctd_eval.stats import estimate, positive_ci

    vals = [0.02, 0.05, 0.9]
    t = mean_ci(vals)
    assert t.lo < 0  # the case the issue reported
    e = positive_ci(vals)
    assert e.mean == pytest.approx(t.mean) and e.n == 3
    assert 0 < e.lo < e.mean < e.hi and not e.symmetric and t.symmetric
    # delta method on the log scale: log(hi / m) = t_{0.975,2} * se / m
    se = float(np.std(vals, ddof=1)) / math.sqrt(3)
    assert math.log(e.hi / e.mean) == pytest.approx(4.302653 * se / e.mean, rel=1e-5)
    assert estimate("mmd", vals) == e and estimate("reward", vals) == t
    assert estimate("mmd", [0.0, 0.0]) == Estimate(0.0, 0.0, 0.0, 2)


def test_unit_interval_stays_in_range() -> None:
    from mctd_eval.stats import estimate

    vals = [0.96, 1.0, 0.5]
    assert mean_ci(vals).hi > 1
    e = estimate("coverage", vals)
    assert 0 <= e.lo < e.mean < e.hi <= 1
    assert estimate("coverage", [1.0, 1.0]).hi == 1.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=2, max_size=12))
def test_transformed_intervals_respect_the_range(vals: list[float]) -> None:
    from mctd_eval.stats import estimate

    e = estimate("swd", vals)
    assert 0 <= e.lo <= e.mean * (1 + 1e-12) and e.hi >= e.mean * (1 - 1e-12)
    u = estimate("rejected_frac", [v / 1e6 for v in vals])
    assert 0 <= u.lo <= u.hi <= 1


def test_aggregated_figure_error_bars_stay_non_negative() -> None:
    from mctd_eval.summary import aggregate

    rows = [
        {
            "key": f"gmm2d|p0|dts|500|s{s}",
            "task": "gmm2d",
            "method": "dts",
            "budget": 500,
            "mmd": v,
            "swd": v,
            "nfe": 500,
        }
        for s, v in enumerate([0.02, 0.05, 0.9])
    ]
    (g,) = aggregate(rows, {"tasks": ["gmm2d"], "methods": ["dts"]})
    assert g.metrics["mmd"].lo >= 0 and g.metrics["swd"].lo >= 0
