"""Budgets, counters and the result every algorithm returns."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

from mctd_tree.protocols import Counters, SearchProblem
from mctd_tree.tree import Tree

S = TypeVar("S")


@dataclass(frozen=True)
class Budget:
    """How much a search may spend: simulations (rollouts) and/or NFE (model forward work).

    A search stops at the first iteration boundary where either is reached, so the NFE may
    overshoot by at most one iteration's work (tree searches shrink their last iterations to keep
    that near one leaf's cost). It stops below the budget only when no work is left
    (``SearchStats.exhausted``), a rollout asked to stop, or picks keep finding no work
    (``SearchStats.stalled``).
    """

    simulations: int | None = None
    nfe: int | None = None

    def __post_init__(self) -> None:
        if self.simulations is None and self.nfe is None:
            raise ValueError("Budget needs simulations or nfe (or both)")
        for name in ("simulations", "nfe"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | np.integer) or v < 1):
                raise ValueError(f"Budget.{name} must be an integer >= 1, got {v!r}")

    def exhausted(self, simulations: int, nfe: int) -> bool:
        return (self.simulations is not None and simulations >= self.simulations) or (
            self.nfe is not None and nfe >= self.nfe
        )

    def remaining_simulations(self, simulations: int) -> float:
        return math.inf if self.simulations is None else self.simulations - simulations


def as_budget(budget: Budget | int) -> Budget:
    """Accept a plain int as a number of simulations."""
    return budget if isinstance(budget, Budget) else Budget(simulations=budget)


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


@dataclass
class SearchStats:
    """Counters of one search: model work, latency proxy, tree shape and wall time.

    ``padded`` and ``reads`` are the parts of ``nfe`` spent on left-padding of ragged batches
    and on distributions read from cached positions (see `Counters`). ``exhausted``: stopped
    before the budget because no slot was left to expand and no leaf left to score (or, for
    best-of-N, a batch cost nothing); ``stalled``: stopped because many picks in a row found no
    work although work was left.
    """

    nfe: int = 0
    calls: int = 0
    simulations: int = 0
    iterations: int = 0
    nodes: int = 0
    max_depth: int = 0
    mean_branching: float = 0.0
    wall_time: float = 0.0
    stopped_early: bool = False
    exhausted: bool = False
    stalled: bool = False
    padded: int = 0
    reads: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SearchResult(Generic[S]):
    """What a search returns.

    ``best_state`` / ``best_reward``: the highest-reward terminal the search produced.
    ``samples``: every terminal the search produced, in order, with its reward; for DTS instead
    descents of the built tree (`sample_tree`, one per simulation), its samples of
    p_theta·exp(lam·r)/Z. ``tree`` is kept for tree algorithms.
    """

    best_state: S | None
    best_reward: float
    samples: list[tuple[S, float]] = field(default_factory=list)
    tree: Tree | None = None
    stats: SearchStats = field(default_factory=SearchStats)


def check_reward(reward: float, where: str) -> float:
    """Reject NaN or infinite rewards with a message naming where they came from."""
    r = float(reward)
    if not math.isfinite(r):
        raise ValueError(f"reward {r!r} at {where} is not finite; fix the reward function")
    return r


def finish_stats(
    stats: SearchStats, problem: SearchProblem[Any], start: Counters, t0: float, tree: Tree | None
) -> SearchStats:
    """Fill in counters measured since ``start`` and the tree's shape."""
    used = problem.counters.since(start)
    stats.nfe, stats.calls = used.nfe, used.calls
    stats.padded, stats.reads = getattr(used, "padded", 0), getattr(used, "reads", 0)
    stats.wall_time = time.perf_counter() - t0
    if tree is not None:
        stats.nodes = tree.num_materialized()
        stats.max_depth = tree.max_depth()
        stats.mean_branching = tree.mean_branching()
    return stats
