"""Sample-set distances and mode statistics (numpy).

- MMD with the RBF kernel k(x, y) = exp(-||x - y||^2 / (2 sigma^2)), the biased (V-statistic)
  estimate MMD = sqrt(mean K_xx + mean K_yy - 2 mean K_xy) (>= 0; duplicates are penalised).
- Sliced Wasserstein-2: sqrt(mean over random unit directions u of W2^2 of the 1-D projections),
  1-D W2 from matched quantiles.
"""

from __future__ import annotations

import numpy as np


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Biased RBF-kernel MMD between sample sets x (n, d) and y (m, d)."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need (n, d) and (m, d) arrays, got {x.shape} and {y.shape}")

    def k(a: np.ndarray, b: np.ndarray) -> float:
        d2 = (a**2).sum(1)[:, None] + (b**2).sum(1)[None] - 2 * a @ b.T
        return float(np.exp(-np.maximum(d2, 0) / (2 * bandwidth**2)).mean())

    return float(np.sqrt(max(k(x, x) + k(y, y) - 2 * k(x, y), 0.0)))


def sliced_wasserstein(
    x: np.ndarray, y: np.ndarray, n_proj: int = 256, rng: np.random.Generator | int = 0
) -> float:
    """Sliced W2 between x (n, d) and y (m, d), quantiles matched on a common grid."""
    rng = np.random.default_rng(rng)
    u = rng.standard_normal((x.shape[1], n_proj))
    u /= np.linalg.norm(u, axis=0, keepdims=True)
    m = max(len(x), len(y))
    qs = (np.arange(m) + 0.5) / m
    px, py = _quantiles(np.sort(x @ u, axis=0), qs), _quantiles(np.sort(y @ u, axis=0), qs)
    return float(np.sqrt(((px - py) ** 2).mean()))


def _quantiles(sorted_cols: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Column quantiles of column-sorted data at levels qs (linear interpolation)."""
    n = len(sorted_cols)
    pos = np.clip(qs * n - 0.5, 0, n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo)[:, None]
    return sorted_cols[lo] * (1 - frac) + sorted_cols[hi] * frac


def mode_assignment(
    x: np.ndarray, means: np.ndarray, stds: np.ndarray, k: float = 3.0
) -> np.ndarray:
    """Index of the nearest mode for each sample, or -1 when it lies beyond k stds of it."""
    d = np.sqrt(((x[:, None, :] - means[None]) ** 2).sum(-1))
    idx = d.argmin(1)
    return np.where(d[np.arange(len(x)), idx] <= k * stds[idx], idx, -1)


def mode_coverage(
    x: np.ndarray,
    means: np.ndarray,
    stds: np.ndarray,
    weights: np.ndarray,
    min_weight: float = 0.01,
) -> float:
    """Fraction of the modes with weight >= min_weight that hold at least one sample."""
    hit = np.zeros(len(means), dtype=bool)
    a = mode_assignment(x, means, stds)
    hit[a[a >= 0]] = True
    major = weights >= min_weight
    return float(hit[major].mean())
