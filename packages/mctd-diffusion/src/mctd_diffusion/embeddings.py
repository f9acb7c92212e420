"""Noise-level embeddings shared by the denoisers."""

from __future__ import annotations

import math

import torch
from torch import nn


def sinusoidal(
    t: torch.Tensor, dim: int, max_period: float = 10_000.0, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Transformer-style features of a (possibly per-token) timestep: shape t.shape + (dim,).

    e_{2i} = sin(t w_i), e_{2i+1} = cos(t w_i), w_i = max_period^(-2i/dim), in ``dtype``.
    """
    half = dim // 2
    steps = torch.arange(half, device=t.device, dtype=dtype)
    freqs = torch.exp(-math.log(max_period) * steps / half)
    angles = t.to(dtype)[..., None] * freqs
    emb = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb


class NoiseLevelEmbedding(nn.Module):
    """Sinusoidal features of the timestep followed by a two-layer MLP (applies per token).

    The features follow the MLP's dtype, so a network moved to float64 runs in float64.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.mlp(sinusoidal(t, self.dim, dtype=next(self.mlp.parameters()).dtype))
