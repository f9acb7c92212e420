"""Noise (beta) schedules.

A schedule gives beta_t for t = 0..T-1 and hence alpha-bar_t = prod_{s<=t} (1 - beta_s), the signal
fraction of x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps.
"""

from __future__ import annotations

import math

import torch

SCHEDULES = ("linear", "cosine")


def linear_betas(
    num_train_timesteps: int, beta_start: float = 1e-4, beta_end: float = 2e-2
) -> torch.Tensor:
    """DDPM's linear schedule: beta_t evenly spaced from beta_start to beta_end (float64)."""
    _check_steps(num_train_timesteps)
    return torch.linspace(beta_start, beta_end, num_train_timesteps, dtype=torch.float64)


def cosine_betas(
    num_train_timesteps: int, s: float = 8e-3, max_beta: float = 0.999
) -> torch.Tensor:
    """Nichol & Dhariwal's cosine schedule: abar(t) = f(t)/f(0).

    f(t) = cos^2((t/T + s)/(1 + s) pi/2); beta_t = 1 - abar(t+1)/abar(t), clipped at ``max_beta``.
    """
    _check_steps(num_train_timesteps)
    T = num_train_timesteps

    def f(t: float) -> float:
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    betas = [min(1 - f(t + 1) / f(t), max_beta) for t in range(T)]
    return torch.tensor(betas, dtype=torch.float64)


def make_betas(name: str, num_train_timesteps: int) -> torch.Tensor:
    """Betas of the schedule called ``name`` ("linear" or "cosine")."""
    if name == "linear":
        return linear_betas(num_train_timesteps)
    if name == "cosine":
        return cosine_betas(num_train_timesteps)
    raise ValueError(f"unknown beta schedule {name!r}; expected one of {SCHEDULES}")


def alphas_cumprod(betas: torch.Tensor) -> torch.Tensor:
    """abar_t = prod_{s<=t} (1 - beta_s)."""
    return torch.cumprod(1.0 - betas, dim=0)


def _check_steps(n: int) -> None:
    if n < 1:
        raise ValueError(f"num_train_timesteps must be >= 1, got {n}")
