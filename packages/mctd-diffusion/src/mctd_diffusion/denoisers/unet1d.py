"""A 1-D temporal U-Net in the style of Diffuser (Janner et al., 2022), per-token noise levels.

Diffuser's architecture: residual blocks of two Conv1d -> GroupNorm -> Mish layers with the
timestep embedding added in between, two blocks per resolution, strided-conv downsampling and
transposed-conv upsampling over time, a skip connection at every resolution, a final conv block
and a 1x1 output conv. Unlike Diffuser's code, whose up path never reads the full-resolution skip
(its input reaches the output only through the stride-2 path), the finest skip is used: a
position's own input must reach its own output for a skip-x0 / v-loss planner, which predicts the
noise at low levels (without it the U-Net could not overfit one plan, see ``test_denoisers``).
For Diffusion Forcing every position carries its own noise level: the embedding is (B, E, L), fed
to each block through Mish + a 1x1 conv and average-pooled to each resolution, so a position's
level reaches its own features first. Sequences of any length are padded (replicated at the end)
to a multiple of 2^(levels - 1) (at least 2^levels) and the output is cropped back.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn
from torch.nn import functional as F

from mctd_diffusion.denoisers._checks import check_cond, per_token_t
from mctd_diffusion.embeddings import NoiseLevelEmbedding


class _ConvBlock(nn.Sequential):
    """Conv1d -> GroupNorm -> Mish (Diffuser's ``Conv1dBlock``)."""

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__(
            nn.Conv1d(c_in, c_out, k, padding=k // 2),
            nn.GroupNorm(_groups(c_out), c_out),
            nn.Mish(),
        )


class _ResBlock(nn.Module):
    """block1(block0(h) + W e) + skip(h): Diffuser's ``ResidualTemporalBlock`` with a per-position
    embedding e (B, E, L)."""

    def __init__(self, c_in: int, c_out: int, emb: int, k: int) -> None:
        super().__init__()
        self.block0, self.block1 = _ConvBlock(c_in, c_out, k), _ConvBlock(c_out, c_out, k)
        self.emb = nn.Sequential(nn.Mish(), nn.Conv1d(emb, c_out, 1))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        return self.block1(self.block0(h) + self.emb(e)) + self.skip(h)


class UNet1D(nn.Module):
    """(x (B, L, D), t (B, L) or (B,), cond (B, C) | None) -> prediction (B, L, D).

    ``channels[i]`` channels at resolution L / 2^i (Diffuser: dim · dim_mults); ``kernel_size``
    of every conv (Diffuser: 5).
    """

    def __init__(
        self,
        data_dim: int,
        channels: tuple[int, ...] = (32, 64),
        emb_dim: int = 32,
        cond_dim: int = 0,
        kernel_size: int = 5,
    ) -> None:
        super().__init__()
        self.data_dim, self.cond_dim, self.levels = data_dim, cond_dim, len(channels)
        k, e = kernel_size, emb_dim
        self.t_emb = NoiseLevelEmbedding(emb_dim)
        self.cond = nn.Linear(cond_dim, emb_dim) if cond_dim else None
        ins, outs = (data_dim, *channels[:-1]), channels
        self.down = _pairs([(ci, co) for ci, co in zip(ins, outs, strict=True)], e, k)
        self.downsample = nn.ModuleList(nn.Conv1d(c, c, 3, 2, 1) for c in channels[:-1])
        self.mid = _pairs([(channels[-1], channels[-1])], e, k)[0]
        outs_up = (channels[0], *channels[:-1])  # resolution i -> channels of resolution i - 1
        self.up = _pairs(
            [(2 * channels[i], outs_up[i]) for i in reversed(range(self.levels))], e, k
        )
        self.upsample = nn.ModuleList(
            nn.ConvTranspose1d(c, c, 4, 2, 1) for c in reversed(channels[:-1])
        )
        self.final = nn.Sequential(
            _ConvBlock(channels[0], channels[0], k), nn.Conv1d(channels[0], data_dim, 1)
        )

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        t = per_token_t(x, t, self.data_dim, seq=True)
        check_cond(cond, x.shape[0], self.cond_dim)
        length = x.shape[1]
        factor = 2 ** (self.levels - 1)
        pad = max(-length % factor, 2 * factor - length)  # >= 2 positions at the coarsest
        emb = self.t_emb(t)
        if cond is not None and self.cond is not None:
            emb = emb + self.cond(cond)[:, None, :]
        h = F.pad(rearrange(x, "b l d -> b d l"), (0, pad), mode="replicate")
        e = F.pad(rearrange(emb, "b l e -> b e l"), (0, pad), mode="replicate")
        skips, embs = [], []
        for i, pair in enumerate(self.down):
            h = _run(pair, h, e)
            skips.append(h)
            embs.append(e)
            if i < len(self.downsample):
                h, e = self.downsample[i](h), F.avg_pool1d(e, 2)
        h = _run(self.mid, h, e)
        for i, pair in enumerate(self.up):
            h = _run(pair, torch.cat([h, skips.pop()], dim=1), embs.pop())
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return rearrange(self.final(h)[..., :length], "b d l -> b l d")


def _pairs(io: list[tuple[int, int]], emb: int, k: int) -> nn.ModuleList:
    """Per (c_in, c_out): two residual blocks, c_in -> c_out -> c_out."""
    return nn.ModuleList(
        nn.ModuleList([_ResBlock(ci, co, emb, k), _ResBlock(co, co, emb, k)]) for ci, co in io
    )


def _run(pair: nn.Module, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    for block in pair.children():
        h = block(h, e)
    return h


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1
