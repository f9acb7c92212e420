"""The named tree searches, as configurations of :class:`~mctd_tree.search.TreeSearch`.

- MCTS: enumerated top-k children, UCT or PUCT selection, mean (or max) backup of rollout returns.
- DTS (Jain et al. 2025): children drawn from p_theta with progressive widening, Boltzmann
  selection ∝ multiplicity·exp(lam·v), rollout states kept, soft backup
  v(s) = (1/lam)·log mean_c exp(lam·v_c). Its samples target p_theta(x)·exp(lam·r(x))/Z.
- DTS*: the same tree with UCT selection; read out the best terminal.
- MaxEnt-TS: enumerated top-k children, selection ∝ p(a|s)·exp(lam·v_a), soft backup weighted by
  p_theta renormalised over the children that have a value. Unvisited children enter selection
  with their parent's value (a neutral first-play estimate), never with 0.
Every one runs K leaves per iteration (``parallel``) with virtual visits of weight
``virtual_weight``; K = 1 is the sequential algorithm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mctd_tree.result import Budget, SearchResult
from mctd_tree.search import Backup, SearchConfig, Selection, TreeSearch

Rng = np.random.Generator | int | None


def mcts(
    problem: Any,
    budget: Budget | int,
    *,
    k: int = 8,
    selection: Selection = "uct",
    backup: Backup = "mean",
    c: float = math.sqrt(2.0),
    parallel: int = 1,
    virtual_weight: float = 1.0,
    rng: Rng = 0,
) -> SearchResult[Any]:
    """Monte Carlo tree search over enumerated children (UCT or PUCT)."""
    if selection not in ("uct", "puct"):
        raise ValueError(f"mcts selection must be 'uct' or 'puct', got {selection!r}")
    cfg = SearchConfig(
        "enumerate", selection, backup, c=c, k=k, parallel=parallel, virtual_weight=virtual_weight
    )
    return TreeSearch(problem, cfg, rng).run(budget)


def dts(
    problem: Any,
    budget: Budget | int,
    *,
    lam: float = 1.0,
    c_widen: float = 2.0,
    alpha: float = 0.8,
    parallel: int = 1,
    virtual_weight: float = 1.0,
    select_lam: float | None = None,
    rng: Rng = 0,
) -> SearchResult[Any]:
    """Diffusion Tree Sampling.

    ``result.samples`` are the terminals each iteration reached (rollout ends, so partly p_theta
    draws); for samples of p_theta·exp(lam·r)/Z descend the built tree with
    :func:`~mctd_tree.search.sample_tree`, which costs no model calls.

    ``select_lam`` (default: ``lam``, the paper's rule) tempers selection only. The descents
    weight each leaf by exp(lam·r) / (product of its ancestors' child counts), which is exact
    when child counts do not depend on values; Boltzmann selection makes them depend (a child
    whose first rollout was lucky is revisited and shrunk to its mean, an unlucky one is left
    low), which biases the samples toward the prior at moderate budgets. A smaller
    ``select_lam`` trades search focus for less of that bias.
    """
    cfg = SearchConfig(
        "widen",
        "boltzmann",
        "soft",
        lam=lam,
        c_widen=c_widen,
        alpha=alpha,
        parallel=parallel,
        virtual_weight=virtual_weight,
        select_lam=select_lam,
    )
    return TreeSearch(problem, cfg, rng).run(budget)


def dts_star(
    problem: Any,
    budget: Budget | int,
    *,
    lam: float = 1.0,
    c: float = math.sqrt(2.0),
    backup: Backup = "soft",
    c_widen: float = 2.0,
    alpha: float = 0.8,
    parallel: int = 1,
    virtual_weight: float = 1.0,
    rng: Rng = 0,
) -> SearchResult[Any]:
    """DTS*: the DTS tree searched with UCT; ``best_state`` is the best terminal found."""
    cfg = SearchConfig(
        "widen",
        "uct",
        backup,
        lam=lam,
        c=c,
        c_widen=c_widen,
        alpha=alpha,
        parallel=parallel,
        virtual_weight=virtual_weight,
    )
    return TreeSearch(problem, cfg, rng).run(budget)


def maxent_ts(
    problem: Any,
    budget: Budget | int,
    *,
    k: int = 8,
    lam: float = 1.0,
    parallel: int = 1,
    virtual_weight: float = 1.0,
    rng: Rng = 0,
) -> SearchResult[Any]:
    """Maximum-entropy tree search over enumerated top-k children (p_theta-weighted soft values)."""
    cfg = SearchConfig(
        "enumerate",
        "boltzmann",
        "soft",
        lam=lam,
        k=k,
        parallel=parallel,
        virtual_weight=virtual_weight,
    )
    return TreeSearch(problem, cfg, rng).run(budget)
