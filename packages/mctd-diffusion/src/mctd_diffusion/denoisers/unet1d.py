"""A 1-D temporal U-Net (Janner et al.'s Diffuser style) with per-token noise-level embeddings."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from mctd_diffusion.denoisers._checks import check_cond, per_token_t
from mctd_diffusion.embeddings import NoiseLevelEmbedding


class _ResBlock(nn.Module):
    """Two conv-norm-SiLU layers; the per-position embedding e (B, E, L) is added in between."""

    def __init__(self, c_in: int, c_out: int, emb: int) -> None:
        super().__init__()
        self.conv1, self.conv2 = (
            nn.Conv1d(c_in, c_out, 3, padding=1),
            nn.Conv1d(c_out, c_out, 3, padding=1),
        )
        self.norm1, self.norm2 = (
            nn.GroupNorm(_groups(c_out), c_out),
            nn.GroupNorm(_groups(c_out), c_out),
        )
        self.emb = nn.Conv1d(emb, c_out, 1)
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = F.silu(self.norm1(self.conv1(h))) + self.emb(e)
        z = F.silu(self.norm2(self.conv2(z)))
        return z + self.skip(h)


class UNet1D(nn.Module):
    """(x (B, L, D), t (B, L) or (B,), cond (B, C) | None) -> prediction (B, L, D).

    Channels ``channels[i]`` at resolution L / 2^i; the per-token embedding is average-pooled to
    each resolution, so every position keeps its own noise level. L must be divisible by
    2^(len(channels) - 1).
    """

    def __init__(
        self,
        data_dim: int,
        channels: tuple[int, ...] = (32, 64),
        emb_dim: int = 32,
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.data_dim, self.cond_dim, self.levels = data_dim, cond_dim, len(channels)
        self.t_emb = NoiseLevelEmbedding(emb_dim)
        self.cond = nn.Linear(cond_dim, emb_dim) if cond_dim else None
        self.inp = nn.Conv1d(data_dim, channels[0], 3, padding=1)
        self.down = nn.ModuleList(
            _ResBlock(channels[max(i - 1, 0)], c, emb_dim) for i, c in enumerate(channels)
        )
        self.mid = _ResBlock(channels[-1], channels[-1], emb_dim)
        ups = list(reversed(channels))
        self.up = nn.ModuleList(
            _ResBlock(2 * c if i == 0 else c + ups[i - 1], c, emb_dim) for i, c in enumerate(ups)
        )
        self.out = nn.Conv1d(channels[0], data_dim, 1)

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = per_token_t(x, t, self.data_dim, seq=True)
        check_cond(cond, x.shape[0], self.cond_dim)
        factor = 2 ** (self.levels - 1)
        if x.shape[1] % factor:
            raise ValueError(f"sequence length {x.shape[1]} must be divisible by {factor}")
        e = self.t_emb(t)
        if cond is not None and self.cond is not None:
            e = e + self.cond(cond)[:, None, :]
        e = rearrange(e, "b l e -> b e l")
        h = self.inp(rearrange(x, "b l d -> b d l"))
        skips, embs = [], []
        for i, block in enumerate(self.down):
            if i:
                h, e = F.avg_pool1d(h, 2), F.avg_pool1d(e, 2)
            h = block(h, e)
            skips.append(h)
            embs.append(e)
        h = self.mid(h, e)
        for i, block in enumerate(self.up):
            skip, e = skips.pop(), embs.pop()
            if i:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skip], dim=1), e)
        return rearrange(self.out(h), "b d l -> b l d")


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1
