"""Search-free baselines: greedy decoding, best-of-N sampling and beam search."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from mctd_tree.result import (
    Budget,
    SearchResult,
    SearchStats,
    as_budget,
    as_rng,
    check_reward,
    finish_stats,
)

Rng = np.random.Generator | int | None


def _score(problem: Any, states: list[Any], rng: np.random.Generator) -> list[float]:
    """Rewards of terminal states (a rollout of a terminal is just its evaluation)."""
    outs = problem.rollout(states, rng)
    return [check_reward(o.reward, f"terminal {i}") for i, o in enumerate(outs)]


def greedy(problem: Any, *, max_steps: int = 100_000) -> SearchResult[Any]:
    """Follow the highest-prior action until a terminal (one propose + step per depth)."""
    start, t0 = problem.counters.snapshot(), time.perf_counter()
    state, depth = problem.root(), 0
    while not problem.is_terminal(state):
        if depth >= max_steps:
            raise ValueError(f"greedy reached max_steps={max_steps} without a terminal")
        best = problem.propose([state], 1)[0]
        state = problem.step([state], [int(best.actions[np.argmax(best.log_priors)])])[0]
        depth += 1
    reward = _score(problem, [state], as_rng(0))[0]
    stats = finish_stats(SearchStats(simulations=1, iterations=depth), problem, start, t0, None)
    stats.max_depth = depth
    return SearchResult(state, reward, [(state, reward)], None, stats)


def best_of_n(
    problem: Any, n: int | Budget, *, batch_size: int | None = None, rng: Rng = 0
) -> SearchResult[Any]:
    """Sample up to ``n`` completions from the root with p_theta; keep the best.

    ``n`` may be a :class:`Budget`: sampling then stops at the first batch boundary where its
    simulations or NFE are reached (``batch_size`` rows per batched call; all at once by default;
    under an NFE budget the last batch shrinks to the rows the remaining NFE pays for at the mean
    cost per row so far). A batch that costs no NFE ends an NFE-budgeted run
    (``stats.exhausted``): more of them could never reach the budget.
    """
    budget = as_budget(n)
    gen = as_rng(rng)
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
    start, t0 = problem.counters.snapshot(), time.perf_counter()
    root = problem.root()
    samples: list[tuple[Any, float]] = []
    exhausted = False
    while not budget.exhausted(len(samples), spent := problem.counters.since(start).nfe):
        left = budget.remaining_simulations(len(samples))
        size = batch_size or (int(left) if math.isfinite(left) else 1)
        size = int(min(size, left))
        if budget.nfe is not None and samples and spent > 0:
            size = int(min(size, max(1, (budget.nfe - spent) // (spent / len(samples)))))
        for out in problem.rollout([root] * size, gen):
            samples.append((out.terminal, check_reward(out.reward, "best-of-N sample")))
        if budget.simulations is None and problem.counters.since(start).nfe == spent:
            exhausted = True
            break
    best = max(samples, key=lambda s: s[1])
    stats = SearchStats(simulations=len(samples), exhausted=exhausted)
    stats = finish_stats(stats, problem, start, t0, None)
    return SearchResult(best[0], best[1], samples, None, stats)


def beam_search(
    problem: Any, width: int, *, k: int | None = None, max_steps: int = 100_000
) -> SearchResult[Any]:
    """Beam search on cumulative log p_theta; the finished beams are then scored by the reward.

    Each step proposes ``k`` (default ``width``) actions for every live beam in one batched call and
    keeps the ``width`` best continuations; finished beams leave the beam.
    """
    if width < 1:
        raise ValueError(f"beam width must be >= 1, got {width!r}")
    k = width if k is None else k
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k!r}")
    start, t0 = problem.counters.snapshot(), time.perf_counter()
    beams: list[tuple[float, Any]] = [(0.0, problem.root())]
    finished: list[tuple[float, Any]] = []
    depth = 0
    while beams and len(finished) < width:
        done = [b for b in beams if problem.is_terminal(b[1])]
        finished += done
        beams = [b for b in beams if not problem.is_terminal(b[1])]
        if not beams or depth >= max_steps:
            break
        props = problem.propose([s for _, s in beams], k)
        cand = [
            (score + float(lp), i, int(a))
            for i, ((score, _), p) in enumerate(zip(beams, props, strict=True))
            for a, lp in zip(p.actions, p.log_priors, strict=True)
        ]
        cand.sort(key=lambda c: -c[0])
        cand = cand[: width - len(finished)]
        states = problem.step([beams[i][1] for _, i, _ in cand], [a for _, _, a in cand])
        beams = [(c[0], s) for c, s in zip(cand, states, strict=True)]
        depth += 1
    pool = finished + beams  # beams left alive at max_steps are scored as they are
    rewards = _score(problem, [s for _, s in pool], as_rng(0))
    samples = [(s, r) for (_, s), r in zip(pool, rewards, strict=True)]
    best = max(samples, key=lambda s: s[1])
    stats = finish_stats(
        SearchStats(simulations=len(samples), iterations=depth), problem, start, t0, None
    )
    stats.max_depth = depth
    return SearchResult(best[0], best[1], samples, None, stats)
