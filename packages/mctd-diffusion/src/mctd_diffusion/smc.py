"""Sequential Monte Carlo / Feynman-Kac steering on the search's branch schedule.

K particles move through the same branch points as the tree. With a value estimate v (here
r(x0_hat), v = 0 at the root and v = r(x_0) at the end) each particle's weight is multiplied by
G = exp(lam (v_new - v_old)); the product telescopes to exp(lam r(x_0)), so the weighted particles
target p_theta(x) exp(lam r(x)). Particles are resampled (systematic) at every branch point where
the effective sample size falls below ``ess_frac`` K, and always at the end, which returns K
equally weighted samples. NFE = K x num_steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mctd_diffusion.problem import DenoisingProblem, DiffusionState


@dataclass
class SMCResult:
    """Final equally weighted particles, their rewards, and how often resampling happened."""

    samples: list[DiffusionState]
    rewards: np.ndarray
    resamples: int


def systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Indices drawn by systematic resampling from normalised ``weights``."""
    n = len(weights)
    positions = (rng.uniform() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


def smc(
    problem: DenoisingProblem,
    n_particles: int,
    lam: float,
    rng: np.random.Generator | int = 0,
    *,
    ess_frac: float = 1.0,
) -> SMCResult:
    """Feynman-Kac steering with potentials exp(lam (v_t - v_{t+1})) (see module doc)."""
    if n_particles < 1:
        raise ValueError(f"n_particles must be >= 1, got {n_particles}")
    rng = np.random.default_rng(rng)
    particles = [problem.root()] * n_particles
    v_old = np.zeros(n_particles)
    logw = np.zeros(n_particles)
    resamples = 0
    while not problem.is_terminal(particles[0]):
        particles = [c.state for c in problem.sample(particles, rng)]
        v = problem.values(particles)
        logw += lam * (v - v_old)
        v_old = v
        w = np.exp(logw - logw.max())
        w /= w.sum()
        done = problem.is_terminal(particles[0])
        if done or 1.0 / (w**2).sum() < ess_frac * n_particles:
            idx = systematic_resample(w, rng)
            particles, v_old, logw = [particles[i] for i in idx], v_old[idx], np.zeros(n_particles)
            resamples += 1
    return SMCResult(particles, problem.rewards(particles), resamples)
