"""A small CNN classifier of 8x8 digits: the reward model and the feature space for metrics."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class DigitClassifier(nn.Module):
    """conv(16) - conv(32) - pool - conv(64) - global mean -> 64 features -> 10 logits."""

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.SiLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(4 * w, num_classes)
        self.feature_dim, self.num_classes = 4 * w, num_classes

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 64) penultimate features of images (B, 1, 8, 8) in [0, 1]."""
        if x.ndim != 4 or x.shape[1:] != (1, 8, 8):
            raise ValueError(f"the classifier expects images (B, 1, 8, 8), got {tuple(x.shape)}")
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def classifier_loss(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    noise: float = 0.05,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Cross-entropy on images with small Gaussian pixel noise (robust to decoder artefacts)."""
    if noise:
        x = (x + noise * torch.randn(x.shape, generator=generator).to(x)).clamp(0, 1)
    return F.cross_entropy(model(x), y)


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of images whose argmax logit is the label."""
    model.eval()
    return float((model(x).argmax(1) == y).float().mean())
