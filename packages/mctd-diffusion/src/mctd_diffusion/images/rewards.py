"""Rewards on diffusion latents, scored on the decoded image (differentiable, for guidance).

- :class:`ClassReward`: log p(class = c | decode(z)) under the digit classifier.
- :class:`SymmetryReward`: -mean squared difference between the image and its left-right mirror
  (a hand-written reward, not a network's opinion; 0 = perfectly symmetric).
"""

from __future__ import annotations

import torch
from mctd_tree.errors import UserError
from torch import nn
from torch.nn import functional as F

from mctd_diffusion.images.vae import VAE


def check_class(target: int, num_classes: int = 10) -> int:
    """`UserError` unless ``target`` is an integer class in 0..num_classes-1."""
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < num_classes:
        raise UserError(f"target class must be an integer in 0-{num_classes - 1}, got {target!r}")
    return target


class ClassReward:
    """r(z) = log softmax(classifier(vae.from_latent(z)))[c]: in (-inf, 0]."""

    def __init__(self, vae: VAE, classifier: nn.Module, target: int) -> None:
        self.vae, self.classifier = vae.eval(), classifier.eval()
        self.target = check_class(target, getattr(classifier, "num_classes", 10))

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.classifier(self.vae.from_latent(z))
        return F.log_softmax(logits, dim=-1)[:, self.target]


class SymmetryReward:
    """r(z) = -mean_pixels (x - flip_lr(x))^2 with x = vae.from_latent(z)."""

    def __init__(self, vae: VAE) -> None:
        self.vae = vae.eval()

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        x = self.vae.from_latent(z)
        return -(x - x.flip(-1)).pow(2).flatten(1).mean(1)
