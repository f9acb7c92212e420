import numpy as np
import pytest
from mctd_diffusion import mmd_rbf, mode_coverage, sliced_wasserstein


def test_mmd_properties() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 2))
    assert mmd_rbf(x, x, 0.5) == pytest.approx(0.0, abs=1e-6)
    near, far = mmd_rbf(x, x + 0.1, 0.5), mmd_rbf(x, x + 1.0, 0.5)
    assert 0 < near < far
    with pytest.raises(ValueError):
        mmd_rbf(x, x[:, :1], 0.5)


def test_sliced_wasserstein_unequal_sizes() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((3000, 2)), rng.standard_normal((1000, 2))
    assert sliced_wasserstein(x, y) < 0.1 < sliced_wasserstein(x, y + 0.5)


def test_sliced_wasserstein_of_a_shift() -> None:
    """Shifting by delta along e1: projections differ by delta*u1, E[u1^2] = 1/2 in 2-D."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4000, 2))
    sw = sliced_wasserstein(x, x + np.array([0.8, 0.0]), n_proj=1000)
    assert sw == pytest.approx(0.8 / np.sqrt(2), rel=0.04)


def test_mode_coverage() -> None:
    means = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    stds, weights = np.full(3, 0.1), np.array([0.5, 0.495, 0.005])
    x = np.array([[0.05, 0.0], [5.0, 5.1], [2.0, 2.0]])
    assert mode_coverage(x, means, stds, weights) == 1.0  # the 0.5% mode is not required
    assert mode_coverage(x[:1], means, stds, weights) == 0.5
