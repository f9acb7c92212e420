"""A small convolutional VAE: 8x8 digits <-> a (C, 4, 4) Gaussian latent.

Loss = sum-of-squares reconstruction + beta KL(q(z|x) || N(0, I)). The diffusion runs on
``latent_scale * mu``: ``latent_scale`` (a buffer, saved with the weights) is set after training to
1 / std of the posterior means so the latents the UNet sees have unit variance.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per element: 0.5 sum(mu^2 + e^logvar - 1 - logvar)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)


class VAE(nn.Module):
    """Encoder conv -> stride-2 conv -> (mu, logvar); decoder conv -> transposed conv -> sigmoid."""

    latent_scale: torch.Tensor

    def __init__(self, channels: int = 32, latent_channels: int = 2) -> None:
        super().__init__()
        c, lc = channels, latent_channels
        self.channels, self.latent_channels = c, lc
        self.enc = nn.Sequential(
            nn.Conv2d(1, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, 2 * lc, 1),
        )
        self.dec = nn.Sequential(
            nn.Conv2d(lc, c, 3, padding=1),
            nn.SiLU(),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, c, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(c, 1, 3, padding=1),
        )
        self.register_buffer("latent_scale", torch.ones(()))

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        """The (C, H, W) of one latent."""
        return (self.latent_channels, 4, 4)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) of q(z | x), each (B, C, 4, 4); x is (B, 1, 8, 8)."""
        if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"the VAE expects images (B, 1, 8, 8), got {tuple(x.shape)}")
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Images (B, 1, 8, 8) in [0, 1] from unscaled latents z (B, C, 4, 4)."""
        if z.ndim != 4 or tuple(z.shape[1:]) != self.latent_shape:
            raise ValueError(
                f"the VAE decodes latents (B, {', '.join(map(str, self.latent_shape))}), "
                f"got {tuple(z.shape)}"
            )
        return torch.sigmoid(self.dec(z))

    def forward(
        self, x: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(reconstruction of a posterior draw, mu, logvar)."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator).to(mu)
        return self.decode(mu + (0.5 * logvar).exp() * eps), mu, logvar

    def to_latent(self, x: torch.Tensor) -> torch.Tensor:
        """The diffusion latent of images: ``latent_scale * mu``."""
        return self.encode(x)[0] * self.latent_scale

    def from_latent(self, z: torch.Tensor) -> torch.Tensor:
        """Decode a diffusion latent (divides by ``latent_scale`` first)."""
        return self.decode(z / self.latent_scale)

    @torch.no_grad()
    def fit_latent_scale(self, x: torch.Tensor) -> float:
        """Set ``latent_scale`` = 1 / std of the posterior means of ``x``; returns it."""
        std = float(self.encode(x)[0].std())
        self.latent_scale.fill_(1.0 / max(std, 1e-6))
        return float(self.latent_scale)


def vae_loss(
    vae: VAE, x: torch.Tensor, beta: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Mean over the batch of sum-squared reconstruction error + beta KL (a beta-VAE ELBO)."""
    recon, mu, logvar = vae(x, generator)
    rec = F.mse_loss(recon, x, reduction="none").flatten(1).sum(1)
    return (rec + beta * kl_divergence(mu, logvar)).mean()
