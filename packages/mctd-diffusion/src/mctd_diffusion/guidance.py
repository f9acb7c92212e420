"""Guidance by an objective on x0 (reward-gradient, classifier-style) inside a scheduler step.

An objective J(x0) scores each element of a batch (shape (B,); a reward, or the maze's
-distance-to-goal). The score of x_t is -eps / sqrt(1 - abar_t); adding s·∇_{x_t} J(x0_hat(x_t))
to it gives eps' = eps - s·sqrt(1 - abar_t)·∇J and x0' = (x_t - sqrt(1 - abar_t)·eps') /
sqrt(abar_t) = x0 + s·(1 - abar_t)/sqrt(abar_t)·∇J (DPS-style: the gradient flows through the
network's x0 prediction). The guided prediction then goes through the scheduler's own ``step``.
Costs a forward and a backward pass. Pieces:

- :func:`objective_grad`: x0_hat and ∇_{x_t} Σ_b J(x0_hat) through any x0 predictor;
- :func:`guided_prediction`: the model output (in the scheduler's parameterisation) of the shifted
  (x0', eps'), for ``scheduler.step``; ``scale`` may be one number or one per element;
- :func:`guided_step`: both around a denoiser ``model(x, t, cond)`` (``max_grad_norm`` clips each
  element's gradient norm: at high noise x0_hat is nearly uninformative and
  d x0_hat / d x_t ~ 1/sqrt(abar_t) makes the raw gradient explode).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from mctd_diffusion.parameterisation import target, to_x0_eps
from mctd_diffusion.schedulers import Scheduler, SchedulerOutput

TorchReward = Callable[[torch.Tensor], torch.Tensor]
Objective = TorchReward  # x0 (B, ...) -> J (B,)


def objective_grad(
    predict: Callable[[torch.Tensor], tuple[torch.Tensor, Any]],
    sample: torch.Tensor,
    objective: Objective,
) -> tuple[torch.Tensor, Any, torch.Tensor]:
    """(x0_hat, extra, ∇_{x_t} Σ_b J(x0_hat)) where ``predict(x_t) -> (x0_hat, extra)`` (extra:
    anything else the same forward pass gives, e.g. eps); x0_hat and extra are detached."""
    x = sample.detach().requires_grad_(True)
    with torch.enable_grad():
        x0, extra = predict(x)
        j = objective(x0).sum()
        # an objective that does not depend on x (a constant) has gradient 0: plain sampling
        grad = torch.autograd.grad(j, x, allow_unused=True)[0] if j.requires_grad else None
    if grad is None:
        grad = torch.zeros_like(x)
    if isinstance(extra, torch.Tensor):
        extra = extra.detach()
    return x0.detach(), extra, grad


def clip_norm(grad: torch.Tensor, max_norm: float | None) -> torch.Tensor:
    """Each element's gradient scaled down to norm ``max_norm`` at most (None: unchanged)."""
    if max_norm is None:
        return grad
    norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
    factor = (max_norm / norm).clamp(max=1.0)
    return grad * factor.reshape(-1, *([1] * (grad.ndim - 1)))


def guided_prediction(
    eps: torch.Tensor,
    sample: torch.Tensor,
    abar: torch.Tensor,
    grad: torch.Tensor,
    scale: float | torch.Tensor,
    prediction_type: str,
) -> torch.Tensor:
    """The prediction of type ``prediction_type`` for eps' = eps - s·sqrt(1 - abar)·grad and
    x0' = (x_t - sqrt(1 - abar)·eps') / sqrt(abar) (``scale`` broadcasts against ``sample``)."""
    eps = eps - scale * (1 - abar).sqrt() * grad
    x0 = (sample - (1 - abar).sqrt() * eps) / abar.sqrt()
    return target(x0, eps, abar, prediction_type)


def guided_step(
    model: nn.Module,
    scheduler: Scheduler,
    sample: torch.Tensor,
    timestep: torch.Tensor | int,
    reward: Objective,
    scale: float,
    *,
    prev_timestep: torch.Tensor | int | None = None,
    cond: torch.Tensor | None = None,
    noise: torch.Tensor | None = None,
    max_grad_norm: float | None = None,
) -> SchedulerOutput:
    """One step of ``scheduler`` with eps shifted along the gradient of ``reward`` on x0."""
    ab = scheduler.abar(timestep, sample)

    def predict(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return to_x0_eps(model(x, timestep, cond), x, ab, scheduler.prediction_type)

    _, eps, grad = objective_grad(predict, sample, reward)
    grad = clip_norm(grad, max_grad_norm)
    guided = guided_prediction(eps, sample, ab, grad, scale, scheduler.prediction_type)
    return scheduler.step(guided, timestep, sample, prev_timestep=prev_timestep, noise=noise)
