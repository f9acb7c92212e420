"""Sample-quality metrics in the classifier's feature space (for search comparisons).

- :func:`frechet_distance`: ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a^1/2 S_b S_a^1/2)^1/2), the
  FID formula between Gaussian fits of two feature sets;
- :func:`mean_pairwise_distance`: diversity, the mean Euclidean distance over distinct pairs;
- :func:`score_latents`: decode latents, then target-class rate, mean log p(c | x), diversity and
  Frechet distance to real images of class c.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mctd_diffusion.images.rewards import check_class
from mctd_diffusion.images.vae import VAE


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to feature sets a (n, d) and b (m, d)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two feature sets (n >= 2, d) of one d, got {a.shape}, {b.shape}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    s_a, s_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    r = _sqrt_psd(s_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(r @ s_b @ r), 0.0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(s_a) + np.trace(s_b) - 2.0 * cross)


def mean_pairwise_distance(f: np.ndarray) -> float:
    """Mean Euclidean distance over the n (n - 1) / 2 distinct pairs of rows of f (n, d)."""
    n = len(f)
    if n < 2:
        return 0.0
    sq = (f**2).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0, None)
    return float(np.sqrt(d2[np.triu_indices(n, 1)]).mean())


@torch.no_grad()
def score_latents(
    z: np.ndarray, vae: VAE, classifier: nn.Module, target: int, real: torch.Tensor
) -> dict[str, float]:
    """Metrics of latents z (n, C, h, w) for target class c; ``real``: real images of class c.
    The Frechet distance is NaN (undefined) for fewer than two samples."""
    check_class(target)
    classifier.eval()
    x = vae.from_latent(torch.as_tensor(z, dtype=torch.float32))
    logits = classifier(x)
    feats = classifier.features(x).double().numpy()  # type: ignore[operator]
    real_feats = classifier.features(real).double().numpy()  # type: ignore[operator]
    logp = torch.log_softmax(logits, -1)[:, target]
    return {
        "target_rate": float((logits.argmax(1) == target).double().mean()),
        "mean_reward": float(logp.double().mean()),
        "diversity": mean_pairwise_distance(feats),
        "frechet": frechet_distance(feats, real_feats) if len(feats) >= 2 else float("nan"),
    }
