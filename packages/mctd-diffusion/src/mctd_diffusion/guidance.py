"""Reward-gradient (classifier-style) guidance inside a scheduler step.

The score of x_t is -eps / sqrt(1 - abar_t); adding scale * grad_{x_t} r(x0_hat(x_t)) to it gives
eps' = eps - scale * sqrt(1 - abar_t) * grad, which replaces eps in the DDIM / DDPM update
(DPS-style: the gradient flows through the network's x0 prediction). Costs a forward and a
backward pass.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mctd_diffusion.parameterisation import target, to_x0_eps
from mctd_diffusion.schedulers import Scheduler, SchedulerOutput

TorchReward = Callable[[torch.Tensor], torch.Tensor]


def guided_step(
    model: nn.Module,
    scheduler: Scheduler,
    sample: torch.Tensor,
    timestep: torch.Tensor | int,
    reward: TorchReward,
    scale: float,
    *,
    prev_timestep: torch.Tensor | int | None = None,
    cond: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
) -> SchedulerOutput:
    """One step of ``scheduler`` with eps shifted along the reward gradient (see module doc)."""
    x = sample.detach().requires_grad_(True)
    with torch.enable_grad():
        pred = model(x, timestep, cond)
        ab = scheduler.abar(timestep, x)
        x0, eps = to_x0_eps(pred, x, ab, scheduler.prediction_type)
        (grad,) = torch.autograd.grad(reward(x0).sum(), x)
    eps = eps.detach() - scale * (1 - ab).sqrt() * grad
    x0 = (sample - (1 - ab).sqrt() * eps) / ab.sqrt()
    guided = target(x0, eps, ab, scheduler.prediction_type)
    return scheduler.step(guided, timestep, sample, prev_timestep=prev_timestep, noise=noise)
