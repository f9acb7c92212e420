"""The exact (Bayes-optimal) epsilon-predictor of an isotropic Gaussian mixture.

Under x_t = sqrt(abar) x0 + sqrt(1 - abar) eps with x0 ~ sum_k w_k N(mu_k, s_k^2 I), the
marginal is p_t = sum_k w_k N(sqrt(abar) mu_k, v_k I), v_k = abar s_k^2 + 1 - abar, and
E[eps | x_t] = -sqrt(1 - abar) grad log p_t(x_t)
             = sqrt(1 - abar) sum_k g_k (x_t - sqrt(abar) mu_k) / v_k,
with g_k the posterior responsibilities. A model with zero training error: it tests searches apart
from model error.
"""

from __future__ import annotations

import torch
from torch import nn

from mctd_diffusion.denoisers._checks import per_token_t
from mctd_diffusion.mixture import GaussianMixture
from mctd_diffusion.schedulers import Scheduler


class ExactMixtureDenoiser(nn.Module):
    """(x (B, d), t (B,), cond=None) -> E[eps | x_t] for ``mixture`` under ``scheduler``'s abar."""

    means: torch.Tensor
    var0: torch.Tensor
    logw: torch.Tensor
    abars: torch.Tensor

    def __init__(self, mixture: GaussianMixture, scheduler: Scheduler) -> None:
        super().__init__()
        self.data_dim = mixture.dim
        self.register_buffer("means", torch.as_tensor(mixture.means, dtype=torch.float64))
        self.register_buffer("var0", torch.as_tensor(mixture.stds**2, dtype=torch.float64))
        self.register_buffer("logw", torch.as_tensor(mixture.weights, dtype=torch.float64).log())
        self.register_buffer("abars", scheduler.alphas_cumprod.clone())
        if scheduler.prediction_type != "epsilon":
            raise ValueError("ExactMixtureDenoiser predicts epsilon; use prediction_type='epsilon'")

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = per_token_t(x, t, self.data_dim, seq=False)
        ab = self.abars[t.long().to(self.abars.device)].to(x.device)[:, None]  # (B, 1)
        xd = x.double()
        v = ab * self.var0[None] + 1 - ab  # (B, K)
        diff = xd[:, None, :] - ab.sqrt()[..., None] * self.means[None]  # (B, K, d)
        logits = self.logw - 0.5 * (diff**2).sum(-1) / v - 0.5 * self.data_dim * v.log()
        g = torch.softmax(logits, dim=1)
        eps = (1 - ab).sqrt() * (g[..., None] * diff / v[..., None]).sum(1)
        return eps.to(x.dtype)
