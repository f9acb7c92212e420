"""`LiveProblem`: a search problem that reports progress after every batched call it serves.

It wraps a `TokenSearchProblem` (every call is delegated unchanged) and keeps what a live status
line shows: the model's NFE since the search started, the tree's nodes (the distinct states the
search has materialised: the root, every stepped or sampled child, and, for DTS-style searches,
every rollout state, which is exactly how `mctd_tree.Tree` counts materialised nodes), the
rollouts so far and the best reward so far. ``on_progress`` may raise `Cancelled` to stop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mctd_tree.problems.tokens import TokenSearchProblem
from mctd_tree.protocols import Child, Counters, Proposals, Rollout


@dataclass
class Progress:
    """A snapshot of a running search."""

    method: str
    nfe: int
    budget: int | None
    nodes: int | None
    rollouts: int
    best_reward: float
    elapsed: float


class LiveProblem:
    """Delegates to ``problem``; calls ``on_progress(Progress)`` after each batched call."""

    def __init__(
        self,
        problem: TokenSearchProblem,
        method: str,
        *,
        budget: int | None,
        tree: bool,
        keeps_rollouts: bool,
        on_progress: Callable[[Progress], None] | None,
    ) -> None:
        self.problem = problem
        self.method, self.budget = method, budget
        self.tree, self.keeps_rollouts = tree, keeps_rollouts
        self.on_progress = on_progress
        self._start = problem.counters.snapshot()
        self._t0 = time.perf_counter()
        self._states: set[tuple[int, ...]] = {problem.root()}
        self.rollouts = 0
        self.best = -math.inf

    @property
    def counters(self) -> Counters:
        return self.problem.counters

    def __getattr__(self, name: str) -> Any:
        """Anything else a search asks of the problem is the wrapped problem's."""
        if name == "problem":  # not set yet (during construction or unpickling)
            raise AttributeError(name)
        return getattr(self.problem, name)

    def root(self) -> tuple[int, ...]:
        return self.problem.root()

    def is_terminal(self, state: tuple[int, ...]) -> bool:
        return self.problem.is_terminal(state)

    def sample(self, states: Sequence[Any], rng: np.random.Generator) -> list[Child[Any]]:
        out = self.problem.sample(states, rng)
        self._states.update(c.state for c in out)
        self._report()
        return out

    def propose(self, states: Sequence[Any], k: int) -> list[Proposals]:
        out = self.problem.propose(states, k)
        self._report()
        return out

    def step(self, states: Sequence[Any], actions: Sequence[int]) -> list[Any]:
        out = self.problem.step(states, actions)
        self._states.update(out)
        self._report()
        return out

    def rollout(self, states: Sequence[Any], rng: np.random.Generator) -> list[Rollout[Any]]:
        out = self.problem.rollout(states, rng)
        for r in out:
            self.rollouts += 1
            self.best = max(self.best, float(r.reward))
            if self.keeps_rollouts:
                self._states.update(c.state for c in r.path)
        self._report()
        return out

    def progress(self) -> Progress:
        return Progress(
            self.method,
            self.counters.since(self._start).nfe,
            self.budget,
            len(self._states) if self.tree else None,
            self.rollouts,
            self.best,
            time.perf_counter() - self._t0,
        )

    def _report(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self.progress())
