"""Reward-gradient (classifier-style) guidance inside a scheduler step.

The score of x_t is -eps / sqrt(1 - abar_t); adding scale * grad_{x_t} r(x0_hat(x_t)) to it gives
eps' = eps - scale * sqrt(1 - abar_t) * grad, which replaces eps in the DDIM / DDPM update
(DPS-style: the gradient flows through the network's x0 prediction). Costs a forward and a
backward pass. ``max_grad_norm`` clips each element's gradient norm: at high noise x0_hat is
nearly uninformative and d x0_hat / d x_t ~ 1/sqrt(abar_t) makes the raw gradient explode.
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
    max_grad_norm: float | None = None,
) -> SchedulerOutput:
    """One step of ``scheduler`` with eps shifted along the reward gradient (see module doc)."""
    x = sample.detach().requires_grad_(True)
    with torch.enable_grad():
        pred = model(x, timestep, cond)
        ab = scheduler.abar(timestep, x)
        x0, eps = to_x0_eps(pred, x, ab, scheduler.prediction_type)
        r = reward(x0).sum()
        # a reward that does not depend on x (a constant) has gradient 0: plain sampling
        grad = torch.autograd.grad(r, x, allow_unused=True)[0] if r.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(x)
    if max_grad_norm is not None:
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
        factor = (max_grad_norm / norm).clamp(max=1.0)
        grad = grad * factor.reshape(-1, *([1] * (grad.ndim - 1)))
    eps = eps.detach() - scale * (1 - ab).sqrt() * grad
    x0 = (sample - (1 - ab).sqrt() * eps) / ab.sqrt()
    guided = target(x0, eps, ab, scheduler.prediction_type)
    return scheduler.step(guided, timestep, sample, prev_timestep=prev_timestep, noise=noise)
