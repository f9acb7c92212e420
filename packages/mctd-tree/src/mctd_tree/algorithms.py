"""The named tree searches, as configurations of :class:`~mctd_tree.search.TreeSearch`.

- MCTS: enumerated top-k children, UCT or PUCT selection, mean (or max) backup of rollout returns.
- DTS (Jain et al. 2025): children drawn from p_theta with progressive widening, Boltzmann
  selection ∝ multiplicity·exp(lam·v), rollout states kept, soft backup
  v(s) = (1/lam)·log mean_c exp(lam·v_c). Its samples target p_theta(x)·exp(lam·r(x))/Z.
- DTS*: the same tree with UCT selection. Read-out: the best terminal seen (``readout="best"``,
  the default) or the paper's argmax descent (``readout="descent"``: from the root follow the
  child of highest value to a terminal). With the max backup (what the paper found best for
  text, and the evaluator's setting) the two agree up to ties; with the soft backup the descent
  favours subtrees that are good on average.
- MaxEnt-TS: enumerated top-k children, selection ∝ p(a|s)·exp(lam·v_a), soft backup weighted by
  p_theta renormalised over the children that have a value. Unvisited children enter selection
  with their parent's value (a neutral first-play estimate), never with 0.
Every one runs K leaves per iteration (``parallel``) with virtual visits of weight
``virtual_weight``; K = 1 is the sequential algorithm.
"""

from __future__ import annotations

import copy
import math
from functools import partial
from typing import Any

import numpy as np

from mctd_tree import policies as P
from mctd_tree.result import Budget, SearchResult, check_reward
from mctd_tree.search import (
    Backup,
    SearchConfig,
    Selection,
    TreeSearch,
    check_exploration,
    check_widening,
    sample_tree,
)
from mctd_tree.tree import Tree

Rng = np.random.Generator | int | None


def backup_rule(backup: Backup, lam: float) -> P.BackupFn:
    """The backup function named ``backup`` ("mean", "max" or "soft" at inverse temperature
    ``lam``)."""
    if backup == "mean":
        return P.mean_update
    if backup == "max":
        return P.max_update
    if backup == "soft":
        return partial(P.soft_update, lam=P.check_lam(lam))
    raise ValueError(f"backup must be one of ('mean', 'max', 'soft'), got {backup!r}")


def selection_rule(selection: Selection, c: float, lam: float) -> tuple[P.SelectFn, P.ReachFn]:
    """The selection function named ``selection`` and its reach for conditioned descents:
    "uct" / "puct" with exploration weight ``c``, "boltzmann" at inverse temperature ``lam``."""
    if selection == "boltzmann":
        lam = P.check_lam(lam)
        return partial(P.boltzmann_select, lam=lam), partial(P.boltzmann_reach, lam=lam)
    c = check_exploration(c)
    if selection == "uct":
        return partial(P.uct_select, c=c), P.any_reach
    if selection == "puct":
        return partial(P.puct_select, c=c), P.any_reach
    raise ValueError(f"selection must be one of ('uct', 'puct', 'boltzmann'), got {selection!r}")


def mcts(
    problem: Any,
    budget: Budget | int,
    *,
    k: int = 8,
    selection: Selection = "uct",
    backup: Backup = "mean",
    c: float = math.sqrt(2.0),
    lam: float = 1.0,
    parallel: int = 1,
    virtual_weight: float = 1.0,
    rng: Rng = 0,
) -> SearchResult[Any]:
    """Monte Carlo tree search over enumerated children (UCT or PUCT); ``lam`` is the inverse
    temperature of the soft backup (``backup="soft"``; unused otherwise)."""
    if selection not in ("uct", "puct"):
        raise ValueError(f"mcts selection must be 'uct' or 'puct', got {selection!r}")
    select, reach = selection_rule(selection, c, lam)
    cfg = SearchConfig(
        "enumerate",
        select,
        backup_rule(backup, lam),
        reach,
        k=k,
        parallel=parallel,
        virtual_weight=virtual_weight,
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

    ``result.samples`` are descents of the built tree (:func:`~mctd_tree.search.sample_tree`,
    one per simulation, drawn with a copy of the search's generator after the search; no model
    calls): DTS's samples of p_theta·exp(lam·r)/Z. The rollout ends are in the tree; the best
    of them is ``best_state``.

    ``select_lam`` (default: ``lam``, the paper's rule) tempers selection only. The descents
    weight each leaf by exp(lam·r) / (product of its ancestors' child counts), which is exact
    when child counts do not depend on values; Boltzmann selection makes them depend (a child
    whose first rollout was lucky is revisited and shrunk to its mean, an unlucky one is left
    low), which biases the samples toward the prior at moderate budgets. A smaller
    ``select_lam`` trades search focus for less of that bias.
    """
    lam = P.check_lam(lam)
    select, reach = selection_rule(
        "boltzmann", 0.0, lam if select_lam is None else P.check_lam(select_lam, "select_lam")
    )
    cfg = SearchConfig(
        "widen",
        select,
        backup_rule("soft", lam),
        reach,
        check_widening(c_widen, alpha),
        parallel=parallel,
        virtual_weight=virtual_weight,
    )
    search = TreeSearch(problem, cfg, rng)
    res = search.run(budget)
    tree = res.tree
    assert tree is not None
    # a copy: the caller's generator is left as the search left it
    leaves = sample_tree(tree, res.stats.simulations, lam, copy.deepcopy(search.rng))
    res.samples = [(tree.states[n], float(tree.reward[n])) for n in leaves]
    return res


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
    readout: str = "best",
    rng: Rng = 0,
) -> SearchResult[Any]:
    """DTS*: the DTS tree searched with UCT. ``best_state`` is the best terminal seen
    (``readout="best"``) or the argmax descent (``readout="descent"``); see the module
    docstring. ``samples`` are the terminals the iterations reached."""
    if readout not in ("best", "descent"):
        raise ValueError(f"readout must be 'best' or 'descent', got {readout!r}")
    select, reach = selection_rule("uct", c, lam)
    cfg = SearchConfig(
        "widen",
        select,
        backup_rule(backup, lam),
        reach,
        check_widening(c_widen, alpha),
        parallel=parallel,
        virtual_weight=virtual_weight,
    )
    res = TreeSearch(problem, cfg, rng).run(budget)
    if readout == "descent" and res.tree is not None and res.tree.visits[0] > 0:
        node = argmax_descent(res.tree)
        res.best_state = res.tree.states[node]
        res.best_reward = check_reward(res.tree.reward[node], f"node {node}")
    return res


def argmax_descent(tree: Tree) -> int:
    """The terminal reached from the root by always taking the visited child of highest value
    (ties: the first created)."""
    node = 0
    while not tree.terminal[node]:
        kids = tree.children(node)
        kids = kids[tree.visits[kids] > 0]
        if len(kids) == 0:
            raise ValueError(f"node {node} has no visited child: the tree has no complete path")
        node = int(kids[np.argmax(tree.value[kids])])
    return node


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
    select, reach = selection_rule("boltzmann", 0.0, lam)
    cfg = SearchConfig(
        "enumerate",
        select,
        backup_rule("soft", lam),
        reach,
        k=k,
        parallel=parallel,
        virtual_weight=virtual_weight,
    )
    return TreeSearch(problem, cfg, rng).run(budget)
