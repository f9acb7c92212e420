"""An exponential moving average of a model's weights, kept by the training loop.

At step i (0-based) the shadow moves toward the weights with decay d_i = min(decay, (1 + i) /
(10 + i)) (the warm-up keeps early averages from being dominated by the random init):
shadow <- d_i·shadow + (1 - d_i)·w. It is saved with each checkpoint as ``ema.*`` tensors.
"""

from __future__ import annotations

import torch
from torch import nn


class EMA:
    """Exponential moving average of a model's floating-point weights (others are copied)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.shadow[k].lerp_(v.to(self.shadow[k].device), 1 - d)
            else:
                self.shadow[k].copy_(v)

    def state(self) -> dict[str, torch.Tensor]:
        """``ema.<name>`` tensors for a checkpoint."""
        return {f"ema.{k}": v for k, v in self.shadow.items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        """Restore the shadow from a checkpoint's ``ema.*`` tensors."""
        missing = [k for k in self.shadow if f"ema.{k}" not in tensors]
        if missing:
            raise ValueError(f"the checkpoint has no EMA weights ({len(missing)} missing)")
        for k in self.shadow:
            self.shadow[k].copy_(tensors[f"ema.{k}"])
