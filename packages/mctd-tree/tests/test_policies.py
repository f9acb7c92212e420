"""Policies against their closed forms."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mctd_tree import policies as P

values = st.lists(st.floats(-5, 5), min_size=1, max_size=8)


@given(values, st.data())
def test_soft_backup_closed_form(vals, data):
    w = data.draw(st.lists(st.floats(0.01, 10), min_size=len(vals), max_size=len(vals)))
    lam = data.draw(st.floats(0.05, 20))
    v, w = np.array(vals), np.array(w)
    expected = math.log(np.sum(w / w.sum() * np.exp(lam * v))) / lam
    assert P.soft_backup(v, w, lam) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@given(values, st.data())
def test_soft_backup_limits(vals, data):
    w = np.array(data.draw(st.lists(st.floats(0.1, 10), min_size=len(vals), max_size=len(vals))))
    v = np.array(vals)
    assert P.soft_backup(v, w, 1e-7) == pytest.approx(np.dot(w, v) / w.sum(), abs=1e-5)
    # lam -> inf: the max, up to log(w_max_share)/lam
    assert P.soft_backup(v, w, 1e5) == pytest.approx(v.max(), abs=1e-3)
    # monotone in lam, between mean and max
    lo, hi = P.soft_backup(v, w, 0.5), P.soft_backup(v, w, 5.0)
    eps = 1e-9
    assert np.dot(w, v) / w.sum() - eps <= lo
    assert lo <= hi + eps
    assert hi <= v.max() + eps


def test_soft_backup_is_a_mean_not_a_sum():
    # k equal children must give back their value, not value + log(k)/lam
    assert P.soft_backup(np.full(5, 0.3), np.ones(5), 2.0) == pytest.approx(0.3)


def test_soft_backup_rejects_bad_weights():
    with pytest.raises(ValueError):
        P.soft_backup(np.array([1.0]), np.array([0.0]), 1.0)
    with pytest.raises(ValueError):
        P.soft_backup(np.array([]), np.array([]), 1.0)


@pytest.mark.parametrize("lam", [0.0, -1.0, float("nan"), float("inf")])
def test_check_lam(lam):
    with pytest.raises(ValueError, match="lam"):
        P.check_lam(lam)


def test_mean_and_max_backup():
    assert P.mean_backup(np.array([1.0, 3.0]), np.array([1.0, 3.0])) == pytest.approx(2.5)
    assert P.max_backup(np.array([1.0, 3.0, 2.0])) == 3.0
    assert P.running_mean(float("nan"), 1, 4.0) == 4.0
    assert P.running_mean(4.0, 2, 2.0) == 3.0
    assert P.running_max(1.0, 0.5) == 1.0


def test_uct_closed_form():
    s = P.uct_scores(np.array([0.5, 0.2, 0.0]), np.array([4.0, 1.0, 0.0]), 5.0, 2.0)
    assert s[0] == pytest.approx(0.5 + 2 * math.sqrt(math.log(5) / 4))
    assert s[1] == pytest.approx(0.2 + 2 * math.sqrt(math.log(5) / 1))
    assert s[2] == math.inf


def test_puct_closed_form():
    s = P.puct_scores(np.array([0.1, 0.3]), np.array([0.75, 0.25]), np.array([0.0, 3.0]), 9.0, 1.5)
    assert s == pytest.approx([0.1 + 1.5 * 0.75 * 3 / 1, 0.3 + 1.5 * 0.25 * 3 / 4])


def test_boltzmann_probs():
    p = P.boltzmann_probs(np.array([0.0, 1.0]), np.log([3.0, 1.0]), 2.0)
    z = 3 + math.exp(2)
    assert p == pytest.approx([3 / z, math.exp(2) / z])
    p = P.boltzmann_probs(np.array([0.0, 1.0]), np.array([0.0, -np.inf]), 1.0)
    assert p.tolist() == [1.0, 0.0]


def test_widening_limit():
    assert P.widening_limit(0, 2.0, 0.8) == 1.0
    assert P.widening_limit(10, 2.0, 0.8) == pytest.approx(2 * 10**0.8)


def test_sample_index_frequencies():
    rng = np.random.default_rng(0)
    probs = np.array([0.1, 0.6, 0.3])
    draws = np.bincount([P.sample_index(probs, rng) for _ in range(20000)], minlength=3) / 20000
    assert np.abs(draws - probs).max() < 0.015
