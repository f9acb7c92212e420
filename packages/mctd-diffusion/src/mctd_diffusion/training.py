"""The denoising training objective."""

from __future__ import annotations

import torch
from torch import nn

from mctd_diffusion.parameterisation import target
from mctd_diffusion.schedulers import Scheduler


def diffusion_loss(
    model: nn.Module,
    scheduler: Scheduler,
    x0: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    cond: torch.Tensor | None = None,
    per_token: bool = False,
) -> torch.Tensor:
    """E_{t, eps} ||f(x_t, t) - target||^2, t ~ U{0..T-1}, x_t = sqrt(abar) x0 + sqrt(1-abar) eps.

    ``per_token`` draws an independent noise level for every token of a sequence x0 (B, L, D):
    Diffusion Forcing's training rule.
    """
    shape = x0.shape[:2] if per_token else x0.shape[:1]
    t = torch.randint(0, scheduler.num_train_timesteps, shape, generator=generator).to(x0.device)
    eps = torch.randn(x0.shape, generator=generator, dtype=x0.dtype).to(x0.device)
    x_t = scheduler.add_noise(x0, eps, t)
    y = target(x0, eps, scheduler.abar(t, x0), scheduler.prediction_type)
    return torch.mean((model(x_t, t, cond) - y) ** 2)
