"""The one sampling rule every mctd language-model backend uses.

A seeded search draws the same tokens on any backend because every backend samples here: one
uniform per row from the numpy generator (none at temperature 0), inverse CDF over the processed
distribution (temperature, then top-k, then top-p) in vocabulary order, in float64.
"""

from __future__ import annotations

import math

import numpy as np


def check_sampling(temperature: float, top_k: int = 0, top_p: float = 1.0) -> None:
    """Validate sampling settings with clear messages."""
    if not (isinstance(temperature, int | float) and math.isfinite(temperature)) or temperature < 0:
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if not isinstance(top_k, int | np.integer) or top_k < 0:
        raise ValueError(f"top_k must be an integer >= 0 (0 = off), got {top_k!r}")
    if not (0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")


def process_logprobs(
    logprobs: np.ndarray, temperature: float, top_k: int = 0, top_p: float = 1.0
) -> np.ndarray:
    """Sampling probabilities (B, V) float64 after temperature, top-k and top-p (nucleus).

    Top-k keeps every token whose tempered log-prob is >= the k-th largest; top-p keeps the
    smallest set of most probable tokens whose mass reaches ``top_p`` (a token is kept when the
    mass strictly before it, in descending order, is < top_p). Temperature must be > 0 here.
    """
    z = np.array(logprobs, dtype=np.float64)  # a copy: the steps below work in place
    if z.ndim == 1:
        z = z[None]
    if temperature != 1:
        z /= temperature
    if top_k and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]
        z = np.where(z >= kth, z, -np.inf)
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z, out=z)
    p /= p.sum(axis=1, keepdims=True)
    if top_p < 1.0:
        vocab = p.shape[1]
        eps = (1.0 - top_p) / vocab  # tokens below eps hold < 1 - top_p in all: always cut
        for i in range(p.shape[0]):
            cand = np.flatnonzero(p[i] >= eps)
            order = cand[np.argsort(-p[i, cand], kind="stable")]
            mass_before = np.cumsum(p[i, order]) - p[i, order]
            keep = np.zeros(vocab, dtype=bool)
            keep[order[mass_before < top_p]] = True
            p[i] = np.where(keep, p[i], 0.0)
            p[i] /= p[i].sum()
    return p


def sample_tokens(
    logprobs: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one token per row of ``logprobs`` (B, V); the shared rule of all mctd LM backends.

    Temperature 0 is greedy (first argmax) and draws no random numbers. Otherwise exactly one
    ``rng.random()`` per row, in row order, and the token is the first index whose cumulative
    processed probability exceeds ``u * total`` (inverse CDF in vocabulary order). Returns the
    tokens and their log-probabilities under the distribution they were drawn from (float64;
    0 at temperature 0).
    """
    lp = np.asarray(logprobs)
    if lp.ndim == 1:
        lp = lp[None]
    if temperature == 0:
        return np.argmax(lp, axis=1).astype(np.int64), np.zeros(lp.shape[0])
    p = process_logprobs(lp, temperature, top_k, top_p)
    u = np.asarray(rng.random(p.shape[0]), dtype=np.float64)
    cdf = np.cumsum(p, axis=1)
    out = np.empty(p.shape[0], dtype=np.int64)
    for i in range(p.shape[0]):
        j = int(np.searchsorted(cdf[i], float(u[i] * cdf[i, -1]), side="right"))
        out[i] = min(j, p.shape[1] - 1)
    with np.errstate(divide="ignore"):
        logq = np.log(p[np.arange(p.shape[0]), out])
    return out, logq


def sample_from_logprobs(
    logprobs: np.ndarray,
    rng: np.random.Generator,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> np.ndarray:
    """The tokens of `sample_tokens` (same random numbers), without their log-probabilities."""
    return sample_tokens(logprobs, rng, temperature=temperature, top_k=top_k, top_p=top_p)[0]


__all__ = ["check_sampling", "process_logprobs", "sample_from_logprobs", "sample_tokens"]
