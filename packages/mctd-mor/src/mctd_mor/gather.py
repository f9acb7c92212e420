"""Gather the tokens a recursion keeps into a dense (causally ordered) batch, and scatter back."""

from __future__ import annotations

import torch
from torch import Tensor


def gather_index(selected: Tensor) -> tuple[Tensor, Tensor]:
    """Indices ``(B, m)`` of each row's selected tokens in order, and their validity.

    ``m`` is the largest count in the batch; a shorter row is padded with distinct unselected
    positions (there are always enough), so scattering back never writes one index twice.
    """
    n = selected.shape[1]
    key = (~selected).long() * n + torch.arange(n, device=selected.device)
    order = key.argsort(dim=1)
    count = selected.sum(1)
    m = int(count.max()) if selected.numel() else 0
    idx = order[:, :m]
    valid = torch.arange(m, device=selected.device)[None, :] < count[:, None]
    return idx, valid


def gather_rows(x: Tensor, idx: Tensor) -> Tensor:
    """``x[b, idx[b]]`` for ``x`` of shape ``(B, T)`` or ``(B, T, D)``."""
    if x.dim() == 2:
        return x.gather(1, idx)
    return x.gather(1, idx[..., None].expand(-1, -1, x.shape[-1]))


def scatter_rows(x: Tensor, idx: Tensor, values: Tensor) -> Tensor:
    """A copy of ``x (B, T, D)`` with ``x[b, idx[b]] = values[b]``."""
    return x.scatter(1, idx[..., None].expand(-1, -1, x.shape[-1]), values)
