"""Confidence intervals and diversity metrics on hand-computed values."""

from __future__ import annotations

import math

import pytest
from mctd_eval.diversity import distinct_n, diversity, pairwise_dissimilarity
from mctd_eval.stats import mean_ci, rate_ci


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
