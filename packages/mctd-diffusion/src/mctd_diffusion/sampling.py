"""Plain sample sets from a problem: ancestral draws, best-of-N groups, importance resampling."""

from __future__ import annotations

import numpy as np

from mctd_diffusion.problem import DenoisingProblem, DiffusionState


def ancestral(
    problem: DenoisingProblem, n: int, rng: np.random.Generator | int = 0
) -> tuple[list[DiffusionState], np.ndarray]:
    """n independent draws of p_theta (guided when the problem has guidance), with rewards."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    outs = problem.rollout([problem.root()] * n, np.random.default_rng(rng))
    return [o.terminal for o in outs], np.array([o.reward for o in outs])


def best_of_groups(rewards: np.ndarray, group: int) -> np.ndarray:
    """Indices of the best draw in each consecutive group of ``group`` draws (best-of-N sets)."""
    if group < 1:
        raise ValueError(f"group must be >= 1, got {group}")
    m = len(rewards) // group
    return np.arange(m) * group + rewards[: m * group].reshape(m, group).argmax(1)


def importance_resample(
    rewards: np.ndarray, lam: float, m: int, rng: np.random.Generator | int = 0
) -> np.ndarray:
    """m indices drawn with probability prop. to exp(lam r): self-normalised IS of the tilt."""
    rng = np.random.default_rng(rng)
    w = np.exp(lam * (rewards - rewards.max()))
    return rng.choice(len(rewards), size=m, p=w / w.sum())
