"""Isotropic Gaussian mixtures, quadratic rewards, and the exact reward-tilted mixture.

For p(x) = sum_k w_k N(x; mu_k, s_k^2 I) and r(x) = a.x - (q/2)||x - c||^2 (q >= 0), the
tilted density p(x) exp(lam r(x)) / Z is again a mixture of isotropic Gaussians. With
h = lam (a + q c) and precision P_k = 1/s_k^2 + lam q:
  mean_k' = (mu_k / s_k^2 + h) / P_k,  s_k'^2 = 1 / P_k,
  log w_k' = log w_k - (d/2) log(s_k^2 P_k) - ||mu_k||^2 / (2 s_k^2)
             + ||mu_k/s_k^2 + h||^2 / (2 P_k)
(then normalised), from completing the square in each component's integral.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class GaussianMixture:
    """sum_k w_k N(mu_k, s_k^2 I): means (K, d), stds (K,), weights (K,) summing to 1."""

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        self.means = np.asarray(self.means, dtype=np.float64)
        self.stds = np.broadcast_to(
            np.asarray(self.stds, dtype=np.float64), self.means.shape[:1]
        ).copy()
        self.weights = np.asarray(self.weights, dtype=np.float64)
        self.weights = self.weights / self.weights.sum()

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n exact draws, shape (n, d)."""
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.means[k] + self.stds[k, None] * rng.standard_normal((n, self.dim))

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x) for x (n, d)."""
        d2 = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        s2 = self.stds[None] ** 2
        comp = np.log(self.weights)[None] - 0.5 * d2 / s2 - 0.5 * self.dim * np.log(2 * np.pi * s2)
        m = comp.max(1, keepdims=True)
        return (m + np.log(np.exp(comp - m).sum(1, keepdims=True)))[:, 0]


def grid_mixture(n_side: int = 5, spacing: float = 1.0, std: float = 0.1) -> GaussianMixture:
    """Equal-weight n_side x n_side grid of modes centred on the origin."""
    ticks = (np.arange(n_side) - (n_side - 1) / 2) * spacing
    means = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), -1).reshape(-1, 2)
    return GaussianMixture(means, np.full(len(means), std), np.ones(len(means)))


@dataclass
class QuadraticReward:
    """r(x) = a.x - (q/2)||x - c||^2, batched over x (n, d); works on numpy arrays and tensors."""

    a: tuple[float, ...]
    c: tuple[float, ...]
    q: float = 0.0

    def __post_init__(self) -> None:
        if len(self.a) != len(self.c) or self.q < 0:
            raise ValueError("QuadraticReward needs len(a) == len(c) and q >= 0")

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.as_tensor(self.a, dtype=x.dtype, device=x.device)
        c = torch.as_tensor(self.c, dtype=x.dtype, device=x.device)
        return x @ a - 0.5 * self.q * ((x - c) ** 2).sum(-1)

    def numpy(self, x: np.ndarray) -> np.ndarray:
        a, c = np.asarray(self.a), np.asarray(self.c)
        return x @ a - 0.5 * self.q * ((x - c) ** 2).sum(-1)


def tilt(p: GaussianMixture, reward: QuadraticReward, lam: float) -> GaussianMixture:
    """The exact mixture proportional to p(x) exp(lam r(x)) (see the module docstring)."""
    a, c = np.asarray(reward.a, dtype=np.float64), np.asarray(reward.c, dtype=np.float64)
    if a.shape != (p.dim,):
        raise ValueError(f"reward of dimension {a.shape[0]} for a mixture of dimension {p.dim}")
    h = lam * (a + reward.q * c)
    s2 = p.stds**2
    prec = 1 / s2 + lam * reward.q
    lin = p.means / s2[:, None] + h
    means = lin / prec[:, None]
    logw = (
        np.log(p.weights)
        - 0.5 * p.dim * np.log(s2 * prec)
        - 0.5 * (p.means**2).sum(1) / s2
        + 0.5 * (lin**2).sum(1) / prec
    )
    w = np.exp(logw - logw.max())
    return GaussianMixture(means, 1 / np.sqrt(prec), w)
