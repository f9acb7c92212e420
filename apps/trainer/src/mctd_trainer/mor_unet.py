"""A Mixture-of-Recursions UNet: the digits UNet whose middle is one shared block applied up to
N_r times, with an expert-choice router (``mctd_mor.routers``) over the spatial cells.

Composed here (the trainer app) because mctd-diffusion does not import mctd-mor. The shared block
is per cell (LayerNorm -> Linear(C + E -> 2C) -> SiLU -> Linear(2C -> C), a residual update), so
only the cells the router keeps are computed: at recursion r the router scores every cell from
[cell features, noise-level (+ class) embedding] and keeps k_r = ceil(capacity * active) of the
active ones (hierarchical filtering). The kept cells' updates carry the straight-through gate
1 + s - stop_grad(s), s = sigmoid(score): value 1, so at capacity 1 the network *is* the same one
with a fixed N_r, while the router still learns from the denoising loss. ``flops`` accumulates the
multiply-adds of the middle actually done (2 per MAC), by the hand count of :func:`middle_flops`.
"""

from __future__ import annotations

import torch
from mctd_diffusion.images import UNet2D
from mctd_mor.routers import ExpertChoiceRouter, capacity_k, topk_select
from mctd_tree.errors import UserError
from torch import nn
from torch.nn import functional as F


def check_capacity(capacity: float) -> float:
    """`UserError` unless 0 < capacity <= 1 (the fraction of active cells each recursion keeps)."""
    if isinstance(capacity, bool) or not isinstance(capacity, int | float) or not 0 < capacity <= 1:
        raise UserError(f"capacity must be a number in (0, 1], got {capacity!r}")
    return float(capacity)


class CellBlock(nn.Module):
    """The shared recursive block: a residual update of each cell from its features and e."""

    def __init__(self, channels: int, emb_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.inp = nn.Linear(channels + emb_dim, 2 * channels)
        self.out = nn.Linear(2 * channels, channels)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Update (M, C) of cells h (M, C) with embeddings e (M, E)."""
        return self.out(F.silu(self.inp(torch.cat([self.norm(h), e], -1))))


def middle_flops(cells: int, scored: int, channels: int, emb_dim: int) -> int:
    """Matmul FLOPs (2 per multiply-add) of ``cells`` block applications and ``scored`` router
    scores: 2 (C + E) 2C + 2 (2C) C per cell, 2 (C + E) per score."""
    c, e = channels, emb_dim
    return 2 * cells * ((c + e) * 2 * c + 2 * c * c) + 2 * scored * (c + e)


class MoRUNet2D(UNet2D):
    """``UNet2D`` with a routed shared middle; ``capacity`` in (0, 1] sets the compute per call."""

    def __init__(
        self,
        latent_shape: tuple[int, int, int] = (2, 4, 4),
        channels: tuple[int, ...] = (32, 64),
        emb_dim: int = 64,
        num_classes: int = 0,
        n_recursion: int = 3,
        capacity: float = 1.0,
    ) -> None:
        super().__init__(latent_shape, channels, emb_dim, num_classes, mid_blocks=0)
        if isinstance(n_recursion, bool) or not isinstance(n_recursion, int) or n_recursion < 1:
            raise UserError(f"n_recursion must be an integer >= 1, got {n_recursion!r}")
        self.n_recursion, self.capacity = n_recursion, check_capacity(capacity)
        self.emb_dim, self.mid_channels = emb_dim, channels[-1]
        self.shared = CellBlock(channels[-1], emb_dim)
        self.router = ExpertChoiceRouter(channels[-1] + emb_dim, n_recursion, alpha=1.0)
        self.flops = 0

    def set_capacity(self, capacity: float) -> None:
        self.capacity = check_capacity(capacity)

    def middle(self, h: torch.Tensor, e: torch.Tensor, t: torch.Tensor | int) -> torch.Tensor:
        b, c, hh, ww = h.shape
        n = hh * ww
        x = h.flatten(2).transpose(1, 2).reshape(b * n, c)  # cells (B N, C)
        emb = e[:, None, :].expand(b, n, e.shape[-1]).reshape(b * n, -1)
        active = torch.ones(b, n, dtype=torch.bool, device=h.device)
        for r in range(self.n_recursion):
            if self.capacity >= 1.0:
                keep, gate = active, None
            else:
                logits = self.router.logits(torch.cat([x, emb], -1), r).view(b, n)
                self.flops += middle_flops(0, b * n, c, self.emb_dim)  # every cell is scored
                keep = topk_select(logits, active, capacity_k(self.capacity, int(active[0].sum())))
                s = torch.sigmoid(logits)
                gate = (1 + s - s.detach()).reshape(-1)
            idx = keep.reshape(-1).nonzero().squeeze(1)
            upd = self.shared(x[idx], emb[idx])
            if gate is not None:
                upd = upd * gate[idx, None]
            x = x.index_add(0, idx, upd)
            self.flops += middle_flops(idx.numel(), 0, c, self.emb_dim)
            active = keep
        return x.view(b, n, c).transpose(1, 2).reshape(b, c, hh, ww)
