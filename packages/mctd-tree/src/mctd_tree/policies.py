"""Selection, backup and widening rules as small pure functions on arrays.

Each takes the statistics of one node's children (values, visits, priors, weights) and returns
scores, probabilities or a backed-up value, so it can be tested against its closed form alone.
"""

from __future__ import annotations

import math

import numpy as np


def check_lam(lam: float, name: str = "lam") -> float:
    """Validate an inverse temperature: finite and > 0."""
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {lam!r}")
    return float(lam)


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


def soft_backup(values: np.ndarray, weights: np.ndarray, lam: float) -> float:
    """Soft (log-mean-exp) value: (1/lam)·log Σ_c w̃_c·exp(lam·v_c), w̃ = w / Σ w.

    Over existing children only. lam → 0 gives the weighted mean, lam → ∞ the max.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if values.size == 0:
        raise ValueError("soft_backup needs at least one child value")
    if np.any(weights < 0) or not np.any(weights > 0):
        raise ValueError("soft_backup weights must be >= 0 with a positive sum")
    with np.errstate(divide="ignore"):
        log_w = np.log(weights) - math.log(float(weights.sum()))
    return _logsumexp(lam * values + log_w) / lam


def mean_backup(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of child values."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(np.dot(weights, values) / weights.sum())


def max_backup(values: np.ndarray) -> float:
    """Max of child values (the lam → ∞ limit of the soft backup)."""
    return float(np.max(values))


def running_mean(value: float, visits: float, ret: float) -> float:
    """Running mean of returns after the ``visits``-th return ``ret`` (visits counts it)."""
    if math.isnan(value) or visits <= 1:
        return ret
    return value + (ret - value) / visits


def running_max(value: float, ret: float) -> float:
    """Running max of returns."""
    return ret if math.isnan(value) else max(value, ret)


def uct_scores(q: np.ndarray, n_child: np.ndarray, n_parent: float, c: float) -> np.ndarray:
    """UCT: q + c·sqrt(log N_parent / N_child); children with N_child = 0 score +inf."""
    n_child = np.asarray(n_child, dtype=np.float64)
    out = np.full(n_child.shape, np.inf)
    seen = n_child > 0
    log_n = math.log(max(n_parent, 1.0))
    out[seen] = np.asarray(q, dtype=np.float64)[seen] + c * np.sqrt(log_n / n_child[seen])
    return out


def puct_scores(
    q: np.ndarray, prior: np.ndarray, n_child: np.ndarray, n_parent: float, c: float
) -> np.ndarray:
    """PUCT (AlphaZero): q + c·P·sqrt(N_parent) / (1 + N_child)."""
    n_child = np.asarray(n_child, dtype=np.float64)
    return np.asarray(q, dtype=np.float64) + c * np.asarray(prior) * math.sqrt(
        max(n_parent, 0.0)
    ) / (1.0 + n_child)


def boltzmann_probs(values: np.ndarray, log_weights: np.ndarray, lam: float) -> np.ndarray:
    """Selection probabilities ∝ w·exp(lam·v) (w = multiplicity or p_theta), over finite entries.

    Entries with log_weight = -inf get probability 0.
    """
    logits = lam * np.asarray(values, dtype=np.float64) + np.asarray(log_weights, dtype=np.float64)
    m = np.max(logits)
    if not math.isfinite(m):
        raise ValueError("boltzmann_probs: no child with positive weight and finite value")
    p = np.exp(logits - m)
    return p / p.sum()


def renormalised_prior(log_priors: np.ndarray) -> np.ndarray:
    """p_theta renormalised over the given children: p̃_a = p_a / Σ_b p_b."""
    lp = np.asarray(log_priors, dtype=np.float64)
    p = np.exp(lp - np.max(lp))
    return p / p.sum()


def widening_limit(visits: float, c: float, alpha: float) -> float:
    """Progressive widening: a node with N visits may hold up to max(1, C·N^alpha) draws."""
    return max(1.0, c * max(visits, 0.0) ** alpha)


def sample_index(probs: np.ndarray, rng: np.random.Generator) -> int:
    """Draw an index from a probability vector by inverse CDF with one uniform from ``rng``."""
    cdf = np.cumsum(probs)
    u = rng.random() * cdf[-1]
    return int(min(np.searchsorted(cdf, u, side="right"), len(probs) - 1))
