"""DDPM and DDIM schedulers in diffusers style (``set_timesteps`` / ``step`` / ``add_noise``).

Timesteps index the training chain, 0..T-1; -1 stands for the clean end (abar = 1). A timestep
argument may be a scalar, one per batch element (B,), or one per token (B, L) (Diffusion Forcing):
it broadcasts against the sample's leading dimensions. A token whose ``prev_timestep`` equals its
``timestep`` is left unchanged.

One step from t to p (abar_t, abar_p; x0, eps from the network):
- DDIM(eta): x_p = sqrt(abar_p) x0 + sqrt(1 - abar_p - s^2) eps + s z,
  s = eta sqrt((1 - abar_p)/(1 - abar_t)) sqrt(1 - abar_t/abar_p).
- DDPM: the posterior q(x_p | x_t, x0) = N(c0 x0 + ct x_t, s^2), with a = abar_t/abar_p,
  c0 = sqrt(abar_p)(1 - a)/(1 - abar_t), ct = sqrt(a)(1 - abar_p)/(1 - abar_t),
  s^2 = (1 - abar_p)(1 - a)/(1 - abar_t). It equals DDIM with eta = 1.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch

from mctd_diffusion.parameterisation import check_prediction, to_x0_eps
from mctd_diffusion.schedules import alphas_cumprod, make_betas

SCHEDULERS = ("ddpm", "ddim")
TimestepLike = int | torch.Tensor


@dataclass
class SchedulerOutput:
    """Result of one step: x_{prev}, the x0 estimate, and the std of the noise that was added."""

    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor
    std: torch.Tensor


class Scheduler(ABC):
    """Shared machinery: the beta schedule, inference timesteps, broadcasting and ``add_noise``."""

    def __init__(
        self,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "linear",
        prediction_type: str = "epsilon",
        clip_sample: float | None = None,
    ) -> None:
        self.num_train_timesteps = num_train_timesteps
        self.beta_schedule = beta_schedule
        self.betas = make_betas(beta_schedule, num_train_timesteps)
        self.alphas_cumprod = alphas_cumprod(self.betas)
        self.prediction_type = check_prediction(prediction_type)
        self.clip_sample = clip_sample
        self.set_timesteps(num_train_timesteps)

    def set_timesteps(self, num_inference_steps: int) -> None:
        """Evenly spaced descending timesteps ("trailing": the first is T-1, the last is >= 0)."""
        T = self.num_train_timesteps
        if not 1 <= num_inference_steps <= T:
            raise ValueError(f"num_inference_steps must be in [1, {T}], got {num_inference_steps}")
        self.num_inference_steps = num_inference_steps
        steps = torch.arange(num_inference_steps, dtype=torch.float64) * (T / num_inference_steps)
        self.timesteps = (torch.round(T - steps) - 1).to(torch.long)

    def previous_timestep(self, timestep: TimestepLike) -> torch.Tensor:
        """The next timestep down the inference grid (-1 after the last one)."""
        t = torch.as_tensor(timestep, dtype=torch.long)
        grid = torch.cat(
            [self.timesteps.flip(0), self.timesteps.new_tensor([self.num_train_timesteps])]
        )
        idx = torch.searchsorted(grid, t.clamp_min(0))
        if bool(((grid[idx.clamp_max(len(grid) - 1)] != t) & (t >= 0)).any()):
            raise ValueError("timestep not on the inference grid; call set_timesteps or pass prev")
        prev = torch.where(idx > 0, grid[(idx - 1).clamp_min(0)], torch.full_like(t, -1))
        return torch.where(t < 0, t, prev)

    def abar(self, timestep: TimestepLike, like: torch.Tensor) -> torch.Tensor:
        """abar at ``timestep`` (1 at -1), shaped to broadcast against ``like``, in its dtype."""
        t = torch.as_tensor(timestep, dtype=torch.long, device=self.alphas_cumprod.device)
        if bool((t >= self.num_train_timesteps).any()) or bool((t < -1).any()):
            raise ValueError(f"timesteps must lie in [-1, {self.num_train_timesteps - 1}]")
        ab = torch.where(
            t >= 0, self.alphas_cumprod[t.clamp_min(0)], torch.ones((), dtype=torch.float64)
        )
        return _expand(ab.to(device=like.device, dtype=like.dtype), like)

    def add_noise(
        self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: TimestepLike
    ) -> torch.Tensor:
        """Forward process: x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) eps."""
        if noise.shape != original_samples.shape:
            raise ValueError(
                f"noise {tuple(noise.shape)} != samples {tuple(original_samples.shape)}"
            )
        ab = self.abar(timesteps, original_samples)
        return ab.sqrt() * original_samples + (1 - ab).sqrt() * noise

    def step(
        self,
        model_output: torch.Tensor,
        timestep: TimestepLike,
        sample: torch.Tensor,
        *,
        prev_timestep: TimestepLike | None = None,
        noise: torch.Tensor | None = None,
        generator: torch.Generator | None = None,
    ) -> SchedulerOutput:
        """One reverse step from ``timestep`` to ``prev_timestep`` (default: next on the grid)."""
        if model_output.shape != sample.shape:
            raise ValueError(
                f"model output {tuple(model_output.shape)} != sample {tuple(sample.shape)}"
            )
        t = torch.as_tensor(timestep, dtype=torch.long)
        p = self.previous_timestep(t) if prev_timestep is None else torch.as_tensor(prev_timestep)
        p = p.to(torch.long)
        if bool((p > t).any()):
            raise ValueError("prev_timestep must not exceed timestep")
        ab_t, ab_p = self.abar(t, sample), self.abar(p, sample)
        x0, eps = to_x0_eps(model_output, sample, ab_t, self.prediction_type)
        if self.clip_sample is not None:
            x0 = x0.clamp(-self.clip_sample, self.clip_sample)
            eps = (sample - ab_t.sqrt() * x0) / (1 - ab_t).sqrt().clamp_min(1e-12)
        mean, std = self._mean_std(x0, eps, sample, ab_t, ab_p)
        if noise is None:
            noise = torch.randn(sample.shape, generator=generator, dtype=sample.dtype).to(
                sample.device
            )
        moving = _expand((p < t).to(sample.device), sample)
        prev = torch.where(moving, mean + std * noise, sample)
        return SchedulerOutput(prev, x0, torch.where(moving, std, torch.zeros_like(std)))

    @abstractmethod
    def _mean_std(
        self,
        x0: torch.Tensor,
        eps: torch.Tensor,
        x_t: torch.Tensor,
        ab_t: torch.Tensor,
        ab_p: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and std of x_prev given the x0 / eps predictions (the scheduler's rule)."""


class DDIMScheduler(Scheduler):
    """DDIM with stochasticity ``eta`` (0: deterministic ODE-like; 1: the DDPM posterior)."""

    def __init__(self, *args: object, eta: float = 0.0, **kwargs: object) -> None:
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.eta = eta

    def _mean_std(
        self,
        x0: torch.Tensor,
        eps: torch.Tensor,
        x_t: torch.Tensor,
        ab_t: torch.Tensor,
        ab_p: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        var = (1 - ab_p) / (1 - ab_t).clamp_min(1e-12) * (1 - ab_t / ab_p)
        std = self.eta * var.clamp_min(0).sqrt()
        mean = ab_p.sqrt() * x0 + (1 - ab_p - std**2).clamp_min(0).sqrt() * eps
        return mean, std


class DDPMScheduler(Scheduler):
    """Ancestral DDPM sampling with the posterior variance beta-tilde (``fixed_small``)."""

    def _mean_std(
        self,
        x0: torch.Tensor,
        eps: torch.Tensor,
        x_t: torch.Tensor,
        ab_t: torch.Tensor,
        ab_p: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        a = ab_t / ab_p
        denom = (1 - ab_t).clamp_min(1e-12)
        mean = ab_p.sqrt() * (1 - a) / denom * x0 + a.sqrt() * (1 - ab_p) / denom * x_t
        std = ((1 - ab_p) * (1 - a) / denom).clamp_min(0).sqrt()
        return mean, std


def make_scheduler(name: str, **kwargs: object) -> Scheduler:
    """A scheduler by name: "ddpm" or "ddim" (keyword arguments go to its constructor)."""
    if name == "ddpm":
        kwargs.pop("eta", None)
        return DDPMScheduler(**kwargs)  # type: ignore[arg-type]
    if name == "ddim":
        return DDIMScheduler(**kwargs)  # type: ignore[arg-type]
    raise ValueError(f"unknown scheduler {name!r}; expected one of {SCHEDULERS}")


def _expand(v: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Append singleton dims so a per-batch / per-token tensor broadcasts against ``like``."""
    if v.ndim > like.ndim or tuple(v.shape) != tuple(like.shape[: v.ndim]):
        raise ValueError(
            f"timesteps of shape {tuple(v.shape)} do not match sample of shape {tuple(like.shape)}"
        )
    return v.reshape(*v.shape, *([1] * (like.ndim - v.ndim)))
