import numpy as np
import pytest
import torch
from mctd_diffusion import (
    ExactMixtureDenoiser,
    GaussianMixture,
    QuadraticReward,
    grid_mixture,
    tilt,
)
from mctd_diffusion.schedulers import DDIMScheduler


def _grid(lo: float, hi: float, n: int) -> tuple[np.ndarray, float]:
    ticks = np.linspace(lo, hi, n)
    xy = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2)
    return xy, (ticks[1] - ticks[0]) ** 2


@pytest.mark.parametrize(
    ("reward", "lam"),
    [
        (QuadraticReward((0.7, -0.4), (0.0, 0.0), 0.0), 1.5),  # linear
        (QuadraticReward((0.0, 0.0), (1.5, 1.0), 2.0), 1.0),  # quadratic (the gmm2d reward)
        (QuadraticReward((0.3, 0.2), (-1.0, 0.5), 0.5), 3.0),  # both
    ],
)
def test_tilt_matches_numeric_integration(reward: QuadraticReward, lam: float) -> None:
    """The closed-form tilted mixture equals p(x) exp(lam r(x)) / Z computed on a fine grid."""
    p = GaussianMixture([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]], [0.3, 0.5, 0.4], [0.5, 0.3, 0.2])
    q = tilt(p, reward, lam)
    xy, da = _grid(-6, 6, 801)
    log_un = p.log_prob(xy) + lam * reward.numpy(xy)
    dens = np.exp(log_un - log_un.max())
    dens /= dens.sum() * da
    np.testing.assert_allclose(dens, np.exp(q.log_prob(xy)), atol=2e-4 * dens.max())
    mean_num = (dens[:, None] * xy).sum(0) * da
    np.testing.assert_allclose(mean_num, (q.weights[:, None] * q.means).sum(0), atol=1e-4)


def test_sampling_and_grid() -> None:
    mix = grid_mixture()
    assert mix.means.shape == (25, 2) and np.isclose(mix.weights.sum(), 1)
    x = mix.sample(20000, np.random.default_rng(0))
    np.testing.assert_allclose(x.mean(0), 0, atol=0.05)
    np.testing.assert_allclose(x.var(0), 2.0 + 0.01, rtol=0.05)  # var of {-2..2} grid + s^2


def test_reward_torch_numpy_agree_and_errors() -> None:
    r = QuadraticReward((0.5, 1.0), (1.0, -1.0), 2.0)
    x = np.random.default_rng(0).standard_normal((6, 2))
    np.testing.assert_allclose(r(torch.from_numpy(x)).numpy(), r.numpy(x))
    with pytest.raises(ValueError):
        QuadraticReward((1.0,), (0.0, 0.0))
    with pytest.raises(ValueError, match="dimension"):
        tilt(grid_mixture(), QuadraticReward((1.0, 0.0, 0.0), (0.0, 0.0, 0.0)), 1.0)


def test_exact_denoiser_is_the_posterior_mean_of_noise() -> None:
    """E[eps | x_t] by Monte Carlo over (x0, eps) pairs near x_t agrees with the closed form."""
    mix = GaussianMixture([[-1.0, 0.0], [1.0, 0.0]], [0.2, 0.2], [0.3, 0.7])
    s = DDIMScheduler(num_train_timesteps=100)
    net = ExactMixtureDenoiser(mix, s)
    t = 50
    ab = float(s.alphas_cumprod[t])
    rng = np.random.default_rng(0)
    x0, eps = mix.sample(400_000, rng), rng.standard_normal((400_000, 2))
    xt = np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps
    q = np.array([0.3, 0.1])
    near = np.linalg.norm(xt - q, axis=1) < 0.05
    mc = eps[near].mean(0)
    exact = net(torch.tensor(q[None], dtype=torch.float32), torch.tensor([t]))[0].numpy()
    np.testing.assert_allclose(exact, mc, atol=0.05)
