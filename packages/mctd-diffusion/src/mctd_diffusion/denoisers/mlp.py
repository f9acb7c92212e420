"""A residual MLP denoiser for low-dimensional data (e.g. 2-D mixtures)."""

from __future__ import annotations

import torch
from torch import nn

from mctd_diffusion.denoisers._checks import check_cond, per_token_t
from mctd_diffusion.embeddings import NoiseLevelEmbedding


class _Block(nn.Module):
    """h <- h + W2 silu(W1 silu(norm h) + U e): a residual block fed the noise-level embedding e."""

    def __init__(self, hidden: int, emb: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.fc1, self.emb, self.fc2 = (
            nn.Linear(hidden, hidden),
            nn.Linear(emb, hidden),
            nn.Linear(hidden, hidden),
        )

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = torch.nn.functional.silu(self.fc1(torch.nn.functional.silu(self.norm(h))) + self.emb(e))
        return h + self.fc2(z)


class MLPDenoiser(nn.Module):
    """(x (B, D), t (B,), cond (B, C) | None) -> prediction (B, D)."""

    def __init__(
        self, data_dim: int, hidden: int = 128, depth: int = 3, emb_dim: int = 64, cond_dim: int = 0
    ) -> None:
        super().__init__()
        self.data_dim, self.cond_dim = data_dim, cond_dim
        self.t_emb = NoiseLevelEmbedding(emb_dim)
        self.cond = nn.Linear(cond_dim, emb_dim) if cond_dim else None
        self.inp = nn.Linear(data_dim, hidden)
        self.blocks = nn.ModuleList(_Block(hidden, emb_dim) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(hidden), nn.SiLU(), nn.Linear(hidden, data_dim))

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = per_token_t(x, t, self.data_dim, seq=False)
        check_cond(cond, x.shape[0], self.cond_dim)
        e = self.t_emb(t)
        if cond is not None and self.cond is not None:
            e = e + self.cond(cond)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, e)
        return self.out(h)
