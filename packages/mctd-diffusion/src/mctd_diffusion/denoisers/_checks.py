"""Input validation shared by the denoisers: clear errors for mismatched shapes."""

from __future__ import annotations

import torch


def per_token_t(x: torch.Tensor, t: torch.Tensor | int, data_dim: int, seq: bool) -> torch.Tensor:
    """Validate x against the model and return timesteps shaped like x's token dims.

    Low-dim data: x (B, D), t scalar, (B,) or (B, 1) -> (B,). Sequences: x (B, L, D), t scalar,
    (B,) or (B, L) -> (B, L).
    """
    want = 3 if seq else 2
    name = "(B, L, D)" if seq else "(B, D)"
    if x.ndim != want or x.shape[-1] != data_dim:
        raise ValueError(f"model expects x of shape {name} with D={data_dim}, got {tuple(x.shape)}")
    t = torch.as_tensor(t, device=x.device)
    tokens = x.shape[:-1]
    if t.ndim == 0:
        return t.expand(tokens)
    if t.ndim == 1 and t.shape[0] == x.shape[0]:
        return t[:, None].expand(tokens) if seq else t
    if t.shape == tokens:
        return t
    if not seq and t.shape == (x.shape[0], 1):
        return t[:, 0]
    raise ValueError(f"timesteps of shape {tuple(t.shape)} do not fit x of shape {tuple(x.shape)}")


def check_cond(cond: torch.Tensor | None, batch: int, cond_dim: int) -> None:
    """A conditioning vector (B, C) must match the model's ``cond_dim`` (0 = unconditional)."""
    if cond is None:
        return
    if cond_dim == 0:
        raise ValueError("this denoiser was built unconditional (cond_dim=0) but got cond")
    if cond.shape != (batch, cond_dim):
        raise ValueError(f"cond must have shape ({batch}, {cond_dim}), got {tuple(cond.shape)}")
