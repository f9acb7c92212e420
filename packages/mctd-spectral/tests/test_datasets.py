from __future__ import annotations

import sys

import numpy as np
import pytest
from mctd_spectral import (
    Series,
    SpectralReward,
    list_series,
    load_series,
    train_test_split,
)

EXPECTED = {
    "sunspots": (309, "annual", 1),
    "co2": (2284, "weekly", 52),
    "nile": (100, "annual", 1),
    "elnino": (61 * 12, "monthly", 12),
    "realgdp": (203, "quarterly", 4),
    "cpi": (203, "quarterly", 4),
    "unemp": (203, "quarterly", 4),
}


def test_list_series() -> None:
    assert set(EXPECTED) <= set(list_series())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_series(name: str) -> None:
    s = load_series(name)
    n, freq, period = EXPECTED[name]
    assert isinstance(s, Series)
    assert s.name == name and len(s) == n and s.freq == freq and s.period == period
    assert s.values.dtype == np.float64 and np.isfinite(s.values).all()
    assert np.ptp(s.values) > 0 and s.description


def test_co2_gaps_are_interpolated() -> None:
    import statsmodels.datasets as ds

    raw = ds.co2.load_pandas().data["co2"].to_numpy()
    gaps = np.flatnonzero(np.isnan(raw))
    assert gaps.size > 0
    y = load_series("co2").values
    ok = ~np.isnan(raw)
    np.testing.assert_array_equal(y[ok], raw[ok])
    i = int(gaps[0])
    lo, hi = i - 1, i + 1
    while np.isnan(raw[hi]):
        hi += 1
    assert y[i] == pytest.approx(raw[lo] + (raw[hi] - raw[lo]) / (hi - lo))


def test_elnino_is_flattened_year_by_year() -> None:
    import statsmodels.datasets as ds

    d = ds.elnino.load_pandas().data
    y = load_series("elnino").values
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    np.testing.assert_array_equal(y[:12], d.loc[0, months].to_numpy(float))
    np.testing.assert_array_equal(y[12:24], d.loc[1, months].to_numpy(float))
    assert load_series("elnino").start == "1950-01"


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown series 'airline'.*sunspots"):
        load_series("airline")


def test_missing_statsmodels_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without statsmodels, loading says which extra to install (None in sys.modules blocks it)."""
    for mod in [m for m in sys.modules if m == "statsmodels" or m.startswith("statsmodels.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "statsmodels", None)  # type: ignore[arg-type]
    with pytest.raises(ImportError, match=r"mctd-spectral\[data\]"):
        load_series("nile")
    assert "sunspots" in list_series()  # listing names needs no statsmodels


def test_train_test_split() -> None:
    s = load_series("nile")
    train, test = train_test_split(s, 10)
    assert train.size == 90 and test.size == 10
    np.testing.assert_array_equal(np.concatenate([train, test]), s.values)
    train, test = train_test_split([1.0, 2.0, 3.0], 1)
    assert train.tolist() == [1.0, 2.0] and test.tolist() == [3.0]
    for bad in (0, 100, -1):
        with pytest.raises(ValueError, match="horizon must be in"):
            train_test_split(s, bad)
    with pytest.raises(ValueError, match="integer"):
        train_test_split(s, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        train_test_split([], 1)


@pytest.mark.parametrize("name", ["sunspots", "co2", "elnino"])
def test_history_reference_prefers_the_true_future_to_a_shuffle(name: str) -> None:
    """End to end on real data: reference from the history only; the truth has its spectrum."""
    history, future = train_test_split(load_series(name), 24)
    reward = SpectralReward.from_history(history, 24, gamma=1.0)
    rng = np.random.default_rng(0)
    shuffled = [rng.permutation(future) for _ in range(10)]
    assert reward([future])[0] > np.mean(reward(shuffled))


def test_importing_the_package_does_not_import_statsmodels() -> None:
    import subprocess

    code = "import sys, mctd_spectral; assert 'statsmodels' not in sys.modules, 'eager import'"
    subprocess.run([sys.executable, "-c", code], check=True)
