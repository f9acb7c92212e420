"""A continuous toy tree with a closed-form tilted target: a Gaussian random walk.

x_0 = 0 and x_{d+1} = x_d + step_std·z for ``depth`` steps; the reward of the end point is
r(x) = -(x - goal)^2 / 2. The end point is N(0, s^2) with s^2 = depth·step_std^2, so the tilted
target p(x)·exp(lam·r(x))/Z is Gaussian with precision 1/s^2 + lam and mean lam·goal / precision.
Children never repeat, as in a diffusion model, which is what makes it a test of DTS's continuous
regime (progressive widening, single-visit children) that the finite trees cannot be.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from mctd_tree.protocols import Child, Counters, Rollout

State = tuple[int, float]  # (steps taken, position)


class GaussianWalk:
    """A ``SamplingProblem``: every state advanced one step costs 1 NFE."""

    def __init__(self, depth: int = 4, step_std: float = 1.0, goal: float = 3.0) -> None:
        if depth < 1 or not step_std > 0:
            raise ValueError(f"need depth >= 1 and step_std > 0, got {depth}, {step_std}")
        self.depth, self.step_std, self.goal = depth, float(step_std), float(goal)
        self.counters = Counters()
        self._actions = itertools.count(1)  # every draw is a new child (action ids never repeat)

    def root(self) -> State:
        return (0, 0.0)

    def is_terminal(self, state: State) -> bool:
        return state[0] >= self.depth

    def reward(self, x: float) -> float:
        return -0.5 * (x - self.goal) ** 2

    def target(self, lam: float) -> tuple[float, float]:
        """Mean and standard deviation of the exact tilted end-point distribution."""
        precision = 1.0 / (self.depth * self.step_std**2) + lam
        return lam * self.goal / precision, math.sqrt(1.0 / precision)

    def sample(self, states: Sequence[State], rng: np.random.Generator) -> list[Child[State]]:
        if any(self.is_terminal(s) for s in states):
            raise ValueError("cannot sample a child of a terminal state")
        self.counters.nfe += len(states)
        self.counters.calls += 1
        z = rng.standard_normal(len(states))
        return [
            Child(
                next(self._actions), (t + 1, x + self.step_std * float(zi)), -0.5 * float(zi) ** 2
            )
            for (t, x), zi in zip(states, z, strict=True)
        ]

    def rollout(self, states: Sequence[State], rng: np.random.Generator) -> list[Rollout[State]]:
        paths: list[list[Child[State]]] = [[] for _ in states]
        cur = list(states)
        while live := [i for i, s in enumerate(cur) if not self.is_terminal(s)]:
            for i, ch in zip(live, self.sample([cur[i] for i in live], rng), strict=True):
                paths[i].append(ch)
                cur[i] = ch.state
        return [Rollout(p, self.reward(s[1]), s) for p, s in zip(paths, cur, strict=True)]
