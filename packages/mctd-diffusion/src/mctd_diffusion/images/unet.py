"""A small 2-D UNet denoiser for image latents: residual blocks, timestep embedding, skips.

Optional class conditioning: ``cond`` is a one-hot (B, num_classes); the all-zeros vector is the
"no class" input, so a model trained with label dropout (``drop_labels``) serves classifier-free
guidance (eps = (1 + w) eps(x, c) - w eps(x, 0), two network evaluations).
"""

from __future__ import annotations

import torch
from mctd_tree.errors import UserError
from torch import nn
from torch.nn import functional as F

from mctd_diffusion.denoisers._checks import check_cond
from mctd_diffusion.embeddings import NoiseLevelEmbedding


class ResBlock2D(nn.Module):
    """conv-norm-SiLU, + Linear(embedding) per channel, conv-norm-SiLU, + 1x1 skip."""

    def __init__(self, c_in: int, c_out: int, emb: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.norm1, self.norm2 = (
            nn.GroupNorm(_groups(c_out), c_out),
            nn.GroupNorm(_groups(c_out), c_out),
        )
        self.emb = nn.Linear(emb, c_out)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = F.silu(self.norm1(self.conv1(h))) + self.emb(e)[:, :, None, None]
        z = F.silu(self.norm2(self.conv2(z)))
        return z + self.skip(h)


class UNet2D(nn.Module):
    """(x (B, C, H, W), t scalar or (B,), cond (B, K) | None) -> eps prediction (B, C, H, W).

    ``channels[i]`` at resolution H / 2^i (H, W divisible by 2^(levels - 1)); ``mid`` is the
    sequence of lowest-resolution blocks (a MoR UNet replaces it with a shared recursive block).
    """

    def __init__(
        self,
        latent_shape: tuple[int, int, int] = (2, 4, 4),
        channels: tuple[int, ...] = (32, 64),
        emb_dim: int = 64,
        num_classes: int = 0,
        mid_blocks: int = 2,
    ) -> None:
        super().__init__()
        c, h, w = latent_shape
        factor = 2 ** (len(channels) - 1)
        if h % factor or w % factor:
            raise UserError(f"latent size {h}x{w} must be divisible by {factor} for {channels}")
        self.latent_shape, self.cond_dim = (c, h, w), num_classes
        self.t_emb = NoiseLevelEmbedding(emb_dim)
        self.cond = nn.Linear(num_classes, emb_dim, bias=False) if num_classes else None
        self.inp = nn.Conv2d(c, channels[0], 3, padding=1)
        self.down = nn.ModuleList(
            ResBlock2D(channels[max(i - 1, 0)], ch, emb_dim) for i, ch in enumerate(channels)
        )
        self.mid = nn.ModuleList(
            ResBlock2D(channels[-1], channels[-1], emb_dim) for _ in range(mid_blocks)
        )
        ups = list(reversed(channels))
        self.up = nn.ModuleList(
            ResBlock2D(2 * ch if i == 0 else ch + ups[i - 1], ch, emb_dim)
            for i, ch in enumerate(ups)
        )
        self.out = nn.Conv2d(channels[0], c, 3, padding=1)

    def embed(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None
    ) -> torch.Tensor:
        """Check x, t, cond and return the (B, E) noise-level (+ class) embedding."""
        if x.ndim != 4 or tuple(x.shape[1:]) != self.latent_shape:
            raise ValueError(
                f"this UNet expects latents (B, {', '.join(map(str, self.latent_shape))}), "
                f"got {tuple(x.shape)}"
            )
        check_cond(cond, x.shape[0], self.cond_dim)
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(x.shape[0])
        if t.shape != (x.shape[0],):
            raise ValueError(f"timesteps of shape {tuple(t.shape)} do not fit batch {x.shape[0]}")
        e = self.t_emb(t)
        if cond is not None and self.cond is not None:
            e = e + self.cond(cond.to(e.dtype))
        return e

    def middle(self, h: torch.Tensor, e: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        """The lowest-resolution blocks (overridden by the MoR UNet)."""
        for block in self.mid:
            h = block(h, e)
        return h

    def forward(
        self, x: torch.Tensor, t: torch.Tensor | int, cond: torch.Tensor | None = None
    ) -> torch.Tensor:
        e = self.embed(x, t, cond)
        h = self.inp(x)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                h = F.avg_pool2d(h, 2)
            h = block(h, e)
            skips.append(h)
        h = self.middle(h, e, t)
        for i, block in enumerate(self.up):
            if i:
                h = F.interpolate(h, scale_factor=2, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1), e)
        return self.out(h)


def drop_labels(
    onehot: torch.Tensor, p: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Zero each row of a one-hot batch with probability p (the CFG "no class" input)."""
    keep = torch.rand(onehot.shape[0], generator=generator) >= p
    return onehot * keep[:, None].to(onehot)


def check_latent_match(latent_shape: tuple[int, ...], unet: UNet2D) -> None:
    """`UserError` unless the VAE's latent shape is the one the UNet was trained on."""
    if tuple(latent_shape) != tuple(unet.latent_shape):
        raise UserError(
            f"the VAE's latents are {tuple(latent_shape)} but the UNet was built for "
            f"{tuple(unet.latent_shape)}: train the UNet on this VAE's latents"
        )


def _groups(c: int) -> int:
    return 8 if c % 8 == 0 else 1
