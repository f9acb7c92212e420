"""scikit-learn's ``load_digits`` (1797 real 8x8 images, 10 classes) with a fixed, seeded split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

VAL_FRAC = 0.2  # stratified 80/20 split
SPLIT_SEED = 0  # the split never changes with the training seed


@dataclass(frozen=True)
class DigitsSplit:
    """Train/validation images (N, 1, 8, 8) float32 in [0, 1] (pixel / 16) and labels (N,)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


def load_digits_split(val_frac: float = VAL_FRAC, seed: int = SPLIT_SEED) -> DigitsSplit:
    """The digits split stratified by class with ``seed`` (1437 train / 360 validation images)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None]
    y = d.target.astype(np.int64)
    xt, xv, yt, yv = train_test_split(x, y, test_size=val_frac, random_state=seed, stratify=y)
    return DigitsSplit(
        torch.from_numpy(xt), torch.from_numpy(yt), torch.from_numpy(xv), torch.from_numpy(yv)
    )
