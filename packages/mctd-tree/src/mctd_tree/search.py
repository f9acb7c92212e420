"""One batched tree-search engine; MCTS, DTS, DTS* and MaxEnt-TS are configurations of it.

An iteration selects K leaves against a frozen tree (virtual visits N^ make the later picks of a
batch avoid the earlier ones: every rule sees N + w·N^), materialises them with one batched
``sample`` or ``step`` call, enumerates the new nodes' actions with one ``propose`` call, rolls all
leaves out with one ``rollout`` call, and then backs the K returns up in pick order (delayed
update). With K = 1 this is exactly the sequential algorithm.

Budgets are spent, not abandoned: a pick that reaches a terminal already scored needs no model
work, so it is backed up at once (a simulation of the sequential algorithm) and the batch keeps
picking until it holds K leaves that need work; a pick blocked by the batch's own claims adds
virtual visits to its path and the batch picks again. A search stops when its budget is spent,
when a rollout asks to stop, or when the tree is exhausted (``stats.exhausted``: no slot left to
expand and no leaf left to score, e.g. a small finite tree fully enumerated). A guard ends a run
whose picks keep finding no work (``stats.stalled``) instead of looping forever. With enumerated
children a streak of such picks is cut short by one descent that ends at work: for Boltzmann
selection (MaxEnt-TS), where those picks change neither values nor selection probabilities, it is
conditioned on reaching work (the law of the first pick that needs work, exactly; the skipped
revisits are not counted as simulations); for UCT / PUCT (MCTS) it is the usual rule among the
children that still have work below them (UCT would otherwise revisit a good terminal for
exponentially many picks before its exploration bonus moves on).
Under an NFE
budget the last iterations shrink: K' = min(K, remaining NFE / mean NFE per leaf so far), at
least 1, so the budget is overshot by about one leaf's cost rather than one full iteration's.

Two expansion styles:
- ``widen`` (DTS, DTS*): children are draws from p_theta under progressive widening
  (a node may hold up to C·N^alpha draws); duplicates raise a child's multiplicity; every rollout
  state is added to the tree, so leaves are terminals with exact rewards.
- ``enumerate`` (MCTS, MaxEnt-TS): a node's top-k actions become child slots when it is created;
  a slot is materialised when first selected, and its rollout is not stored.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import numpy as np

from mctd_tree import policies as P
from mctd_tree.protocols import EnumerableProblem, Rollout, SamplingProblem, SearchProblem
from mctd_tree.result import (
    Budget,
    SearchResult,
    SearchStats,
    as_budget,
    as_rng,
    check_reward,
    finish_stats,
)
from mctd_tree.tree import Tree

Expansion = Literal["widen", "enumerate"]
Selection = Literal["uct", "puct", "boltzmann"]
Backup = Literal["mean", "max", "soft"]
WidenFn = Callable[[float], float]
DEFAULT_WIDEN: WidenFn = partial(P.widening_limit, c=2.0, alpha=0.8)  # C = 2, alpha = 0.8


@dataclass(frozen=True)
class SearchConfig:
    """Rules of a tree search, as functions (``functools.partial`` over :mod:`policies`).

    ``expansion``: ``"widen"`` (children drawn from p_theta; needs a ``SamplingProblem``) or
    ``"enumerate"`` (top-``k`` child slots; needs an ``EnumerableProblem``). ``select`` picks a
    child (e.g. ``partial(P.uct_select, c=1.4)``, ``partial(P.boltzmann_select, lam=2.0)``);
    ``reach`` is the same rule's mass for descents conditioned on work (``P.any_reach`` for
    deterministic rules, ``partial(P.boltzmann_reach, lam=...)`` for Boltzmann); ``backup``
    updates a node's value (``P.mean_update``, ``P.max_update``, ``partial(P.soft_update,
    lam=...)``); ``widen`` is the widening limit C·N^alpha; ``parallel`` the leaves per
    iteration (K) and ``virtual_weight`` the weight w of virtual visits."""

    expansion: Expansion
    select: P.SelectFn
    backup: P.BackupFn
    reach: P.ReachFn = P.any_reach
    widen: WidenFn = DEFAULT_WIDEN
    k: int = 8
    parallel: int = 1
    virtual_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.expansion not in ("widen", "enumerate"):
            raise ValueError(
                f"expansion must be one of ('widen', 'enumerate'), got {self.expansion!r}"
            )
        for name in ("select", "backup", "reach", "widen"):
            if not callable(getattr(self, name)):
                raise ValueError(f"{name} must be a function, got {getattr(self, name)!r}")
        if not (isinstance(self.parallel, int | np.integer) and self.parallel >= 1):
            raise ValueError(f"parallel (K) must be an integer >= 1, got {self.parallel!r}")
        if not (isinstance(self.k, int | np.integer) and self.k >= 1):
            raise ValueError(f"k must be an integer >= 1, got {self.k!r}")
        if not self.virtual_weight >= 0:
            raise ValueError(f"virtual_weight must be >= 0, got {self.virtual_weight!r}")


def check_exploration(c: float) -> float:
    """Validate a UCT / PUCT exploration weight: finite and >= 0."""
    if not (c >= 0 and math.isfinite(c)):
        raise ValueError(f"c must be a finite number >= 0, got {c!r}")
    return float(c)


def check_widening(c_widen: float, alpha: float) -> WidenFn:
    """The widening rule C·N^alpha (``c_widen`` > 0, 0 <= ``alpha`` <= 1) as a function of N."""
    if not (c_widen > 0 and 0 <= alpha <= 1):
        raise ValueError(f"need c_widen > 0 and 0 <= alpha <= 1, got {c_widen}, {alpha}")
    return partial(P.widening_limit, c=c_widen, alpha=alpha)


@dataclass
class _Job:
    """One selected leaf: what to do with it and the path from the root."""

    kind: Literal["sample", "step", "leaf", "blocked"]
    node: int
    path: list[int]
    rollout: Rollout[Any] | None = None
    end: int = -1  # the node whose value takes the return


@dataclass
class _Pending:
    """Virtual visits and draws claimed by the picks of the current batch."""

    visits: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    draws: dict[int, int] = field(default_factory=lambda: defaultdict(int))


FREE_PICKS = 256  # picks without model work one iteration may make (per leaf of the batch)
STALL_ITERATIONS = 8  # consecutive iterations without model work before a run is stalled
EXHAUSTION_CHECK = 32  # free picks between two checks whether any work is left
CONDITION_AFTER = 16  # MaxEnt-TS: picks without work before one descent conditioned on work


class TreeSearch:
    """The engine. ``run`` builds a tree until the budget is spent; see the module docstring."""

    def __init__(
        self,
        problem: SamplingProblem[Any] | EnumerableProblem[Any],
        config: SearchConfig,
        rng: np.random.Generator | int | None = 0,
    ) -> None:
        self.problem: SearchProblem[Any] = problem
        self.cfg = config
        self.rng = as_rng(rng)
        self._sampler: SamplingProblem[Any] | None = None
        self._enumerator: EnumerableProblem[Any] | None = None
        if config.expansion == "widen":
            if not isinstance(problem, SamplingProblem):
                raise TypeError(f"expansion='widen' needs a SamplingProblem, got {problem!r}")
            self._sampler = problem
        else:
            if not isinstance(problem, EnumerableProblem):
                raise TypeError(
                    f"expansion='enumerate' needs an EnumerableProblem, got {problem!r}"
                )
            self._enumerator = problem
        # counted from here: the root's expansion is part of the search's work
        self._start, self._t0 = problem.counters.snapshot(), time.perf_counter()
        root = problem.root()
        self.tree = Tree(root, bool(problem.is_terminal(root)))
        self.samples: list[tuple[Any, float]] = []
        self.best: tuple[Any, float] = (None, -math.inf)
        self.simulations = 0
        self.iterations = 0
        self.work_leaves = 0  # leaves that went through a batched model call
        self.stopped_early = False
        self.exhausted = False
        self.stalled = False
        # per node, the mass of picks needing work below it (see _refresh_reach); nodes whose
        # inputs changed since the last refresh are dirty and recomputed with their ancestors
        self._reach = np.zeros(self.tree._capacity)
        self._dirty: set[int] = {0}
        if self._enumerator is not None and not self.tree.terminal[0]:
            self._propose([0])

    # ---------------------------------------------------------------- driver
    def run(self, budget: Budget | int) -> SearchResult[Any]:
        budget = as_budget(budget)
        start, t0 = self._start, self._t0
        idle = 0
        while not budget.exhausted(self.simulations, self._spent()):
            if self.iterate(self._batch_size(budget), budget) > 0:
                idle = 0
            elif self._no_work_left():
                self.exhausted = True
            else:
                idle += 1
                self.stalled = idle >= STALL_ITERATIONS
            if self.stopped_early or self.exhausted or self.stalled:
                break
        stats = SearchStats(
            simulations=self.simulations,
            iterations=self.iterations,
            stopped_early=self.stopped_early,
            exhausted=self.exhausted,
            stalled=self.stalled,
        )
        finish_stats(stats, self.problem, start, t0, self.tree)
        return SearchResult(self.best[0], self.best[1], self.samples, self.tree, stats)

    def _spent(self) -> int:
        return self.problem.counters.since(self._start).nfe

    def _batch_size(self, budget: Budget) -> int:
        """K, cut to the simulations left and, under an NFE budget, to the leaves the remaining
        NFE pays for at the mean cost per leaf so far (at least 1)."""
        k = min(float(self.cfg.parallel), budget.remaining_simulations(self.simulations))
        if budget.nfe is not None and self.work_leaves > 0:
            spent = self._spent()
            per_leaf = spent / self.work_leaves
            if per_leaf > 0:
                k = min(k, max(1.0, (budget.nfe - spent) // per_leaf))
        return int(k)

    def iterate(self, picks: int, budget: Budget | None = None) -> int:
        """One batched iteration with up to ``picks`` leaves that need model work; returns how
        many were run. Picks that need no work (scored terminals) are backed up at once."""
        pending = _Pending()
        jobs: list[_Job] = []
        sims_left = math.inf if budget is None else budget.remaining_simulations(self.simulations)
        tries = free = streak = 0
        conditioned = self._enumerator is not None
        while len(jobs) < picks and len(jobs) < sims_left and tries < FREE_PICKS * picks:
            tries += 1
            if conditioned and streak >= CONDITION_AFTER:
                job, streak = self._select_work(pending), 0
            else:
                job = self._select(pending)
            if job is None:
                break  # a non-terminal node with nothing to select: no pick can succeed
            if job.kind == "blocked":  # every slot on this path is claimed by the batch
                for n in job.path:
                    pending.visits[n] += 1
                streak += 1
                continue
            if self._scored(job.node):
                job.end = job.node
                self._backup(job)
                self.simulations += 1
                sims_left -= 1
                free += 1
                streak += 1
                if sims_left <= 0:
                    break
                if not jobs and free % EXHAUSTION_CHECK == 0 and self._no_work_left():
                    break
                continue
            jobs.append(job)
            self._dirty.add(job.node)  # a claimed slot is no work for the rest of the batch
            streak = 0
            for n in job.path:
                pending.visits[n] += 1
        if not jobs:
            return 0
        self._draw(jobs, pending)
        self._materialise(jobs)
        self._roll_out(jobs)
        for job in jobs:
            self._backup(job)
        self.iterations += 1
        self.simulations += len(jobs)
        self.work_leaves += len(jobs)
        return len(jobs)

    def _scored(self, node: int) -> bool:
        return bool(self.tree.terminal[node]) and not math.isnan(self.tree.reward[node])

    def _no_work_left(self) -> bool:
        """True when no pick can ever need model work again: every terminal is scored and, for
        enumerated trees, every slot is materialised (a widening tree can always draw more)."""
        tree, n = self.tree, self.tree.size
        mat, term = tree.materialized[:n], tree.terminal[:n]
        if np.any(mat & term & np.isnan(tree.reward[:n])):
            return False
        if self._sampler is not None:
            return not np.any(mat & ~term)
        return bool(np.all(mat))

    # ------------------------------------------------------------- selection
    def _select(
        self, pending: _Pending, node: int = 0, path: list[int] | None = None
    ) -> _Job | None:
        tree, cfg = self.tree, self.cfg
        path = path or [0]
        while True:
            if tree.terminal[node]:
                return _Job("leaf", node, path)
            if self._sampler is not None:  # progressive widening: room for another draw?
                n_eff = tree.visits[node] + cfg.virtual_weight * pending.visits.get(node, 0)
                draws = tree.draws(node) + pending.draws.get(node, 0)
                if draws < cfg.widen(n_eff):
                    pending.draws[node] += 1
                    return _Job("sample", node, path)
            kids = tree.children(node)
            if len(kids) == 0:
                return None
            ch = self._children(node, kids, pending)
            if not ch.open.any():
                return _Job("blocked", node, path)
            child = int(kids[cfg.select(ch, self.rng)])
            path = [*path, child]
            if not tree.materialized[child]:
                return _Job("step", child, path)
            node = child

    def _children(
        self, node: int, kids: np.ndarray, pending: _Pending, reach: np.ndarray | None = None
    ) -> P.Children:
        """The statistics the selection rule sees of ``node``'s children (see P.Children)."""
        tree, w = self.tree, self.cfg.virtual_weight
        claimed = np.fromiter((pending.visits.get(int(c), 0) for c in kids), float, len(kids))
        values = tree.value[kids]
        fpu = 0.0 if math.isnan(tree.value[node]) else float(tree.value[node])
        log_prior = tree.log_prior[kids]
        if self._sampler is not None:
            with np.errstate(divide="ignore"):
                log_weight = np.log(tree.multiplicity[kids])
        else:
            log_weight = log_prior
        return P.Children(
            q=np.where(np.isnan(values), fpu, values),
            log_weight=log_weight,
            log_prior=log_prior,
            visits=tree.visits[kids] + w * claimed,
            parent_visits=tree.visits[node] + w * pending.visits.get(node, 0),
            open=tree.materialized[kids] | (claimed == 0),  # a slot is expanded once per batch
            reach=reach,
        )

    def _refresh_reach(self, pending: _Pending) -> np.ndarray:
        """Per node, the mass of picks needing model work (an open slot, an unscored terminal)
        below it, by ``cfg.reach``: for Boltzmann selection the probability that a descent from
        the node ends at such a pick, for UCT / PUCT 1 where any lies below and 0 elsewhere.

        Kept up to date incrementally: only the dirty nodes (a claimed slot, a new node, the end
        of a backed-up path) and their ancestors are recomputed, deepest first, so a check costs
        O(changes · depth) instead of a walk over the whole tree."""
        tree = self.tree
        if len(self._reach) < tree.size:
            grown = np.zeros(max(tree.size, 2 * len(self._reach)))
            grown[: len(self._reach)] = self._reach
            self._reach = grown
        todo: set[int] = set()
        for node in self._dirty:
            while node >= 0 and node not in todo:
                todo.add(node)
                node = int(tree.parent[node])
        self._dirty.clear()
        w = self._reach
        for node in sorted(todo, key=lambda n: -int(tree.depth[n])):
            if not tree.materialized[node]:
                w[node] = 0.0 if pending.visits.get(node, 0) else 1.0
            elif tree.terminal[node]:
                w[node] = float(math.isnan(tree.reward[node]))
            elif len(kids := tree.children(node)):
                w[node] = self.cfg.reach(self._children(node, kids, pending), w[kids])
            else:
                w[node] = 0.0
        return w

    def _select_work(self, pending: _Pending) -> _Job | None:
        """A descent that ends at a pick needing work, or None when there is none.

        Boltzmann (MaxEnt-TS): conditioned on needing work, which is the law of the first such
        pick of repeated plain descents (picks that only revisit scored terminals change neither
        values nor Boltzmann probabilities). UCT / PUCT: the usual rule among the children with
        work below them (the MCTS-solver idea: a fully scored subtree is left alone)."""
        tree = self.tree
        w = self._refresh_reach(pending)
        if w[0] <= 0:
            return None
        node, path = 0, [0]
        while True:
            kids = tree.children(node)
            child = int(
                kids[self.cfg.select(self._children(node, kids, pending, w[kids]), self.rng)]
            )
            path.append(child)
            if not tree.materialized[child]:
                return _Job("step", child, path)
            if tree.terminal[child]:
                return _Job("leaf", child, path)
            node = child

    # ------------------------------------------------------ model work (batched)
    def _draw(self, jobs: list[_Job], pending: _Pending) -> None:
        """Widening draws, batched. A draw that repeats an existing child descends into it and
        the descent goes on (widening or selecting below it), as one draw from p_theta would."""
        tree, problem = self.tree, self._sampler
        while todo := [i for i, j in enumerate(jobs) if j.kind == "sample"]:
            assert problem is not None  # only a widening search draws
            drawn = problem.sample([tree.states[jobs[i].node] for i in todo], self.rng)
            for i, ch in zip(todo, drawn, strict=True):
                job = jobs[i]
                child, created = tree.add_child(job.node, ch.action, ch.log_prior)
                tree.multiplicity[child] += 1
                pending.draws[job.node] -= 1
                for n in job.path:  # a descent never sees its own virtual visits
                    pending.visits[n] -= 1
                path = [*job.path, child]
                if created:
                    tree.set_state(child, ch.state, problem.is_terminal(ch.state))
                    jobs[i] = _Job("leaf", child, path)
                else:
                    nxt = self._select(pending, child, path)
                    if nxt is None or nxt.kind == "blocked":
                        nxt = _Job("leaf", child, path)
                    jobs[i] = nxt
                for n in jobs[i].path:
                    pending.visits[n] += 1

    def _materialise(self, jobs: list[_Job]) -> None:
        tree, problem = self.tree, self._enumerator
        steps = [j for j in jobs if j.kind == "step"]
        if steps:
            assert problem is not None  # only enumerated slots are stepped into
            parents = [int(tree.parent[j.node]) for j in steps]
            actions = [int(tree.action[j.node]) for j in steps]
            states = problem.step([tree.states[p] for p in parents], actions)
            for job, state in zip(steps, states, strict=True):
                tree.set_state(job.node, state, problem.is_terminal(state))
            self._propose([j.node for j in steps if not tree.terminal[j.node]])

    def _propose(self, nodes: list[int]) -> None:
        if not nodes:
            return
        tree, problem = self.tree, self._enumerator
        assert problem is not None
        proposals = problem.propose([tree.states[n] for n in nodes], self.cfg.k)
        for node, prop in zip(nodes, proposals, strict=True):
            for a, lp in zip(prop.actions, prop.log_priors, strict=True):
                self._dirty.add(tree.add_child(node, int(a), float(lp))[0])
            tree.expanded[node] = True
            self._dirty.add(node)

    def _roll_out(self, jobs: list[_Job]) -> None:
        tree = self.tree
        todo = [
            j for j in jobs if not (tree.terminal[j.node] and not np.isnan(tree.reward[j.node]))
        ]
        if todo:
            outs = self.problem.rollout([tree.states[j.node] for j in todo], self.rng)
            for job, out in zip(todo, outs, strict=True):
                job.rollout = out
                self.stopped_early |= bool(out.info.get("stop", False))
        for job in jobs:
            job.end = job.node
            if job.rollout is None:  # a terminal already scored
                continue
            reward = check_reward(job.rollout.reward, f"node {job.node} (rollout)")
            if self._sampler is not None:  # rollout states are kept
                job.end = self._insert_path(job.node, job.rollout)
                job.path = job.path + tree.path(job.end)[len(job.path) :]
            if tree.terminal[job.end]:
                tree.reward[job.end] = reward

    def _insert_path(self, node: int, rollout: Rollout[Any]) -> int:
        """Add a rollout's states below ``node`` (merging repeated draws); return the last node.
        A tree never grows below a terminal: a rollout that goes on past one is refused."""
        tree = self.tree
        for i, ch in enumerate(rollout.path):
            if tree.terminal[node]:
                raise ValueError(
                    f"a rollout went on for {len(rollout.path) - i} edge(s) past the terminal "
                    f"state of node {node}; a problem's rollout must end at its first terminal"
                )
            child, created = tree.add_child(node, ch.action, ch.log_prior)
            if created:
                tree.set_state(child, ch.state, self.problem.is_terminal(ch.state))
            tree.multiplicity[child] += 1
            node = child
        return node

    # ---------------------------------------------------------------- backup
    def _backup(self, job: _Job) -> None:
        """Count the visit on the path and update its values bottom-up by ``cfg.backup``."""
        tree = self.tree
        if job.rollout is not None:
            ret, terminal_state = job.rollout.reward, job.rollout.terminal
        else:
            ret, terminal_state = float(tree.reward[job.end]), tree.states[job.end]
        ret = check_reward(ret, f"node {job.end}")
        self.samples.append((terminal_state, ret))
        if ret > self.best[1]:
            self.best = (terminal_state, ret)
        for n in job.path:
            tree.visits[n] += 1
        backup = self.cfg.backup
        for n in reversed(job.path):
            tree.value[n] = backup(tree.value[n], tree.visits[n], ret, partial(self._kids, n))
        self._dirty.add(job.path[-1])

    def _kids(self, node: int) -> tuple[np.ndarray, np.ndarray]:
        """Values and weights of ``node``'s visited children: multiplicities for sampled
        children, p_theta renormalised over the visited ones for enumerated children."""
        tree = self.tree
        kids = tree.children(node)
        kids = kids[tree.visits[kids] > 0] if len(kids) else kids
        if len(kids) == 0:
            return np.zeros(0), np.zeros(0)
        if self._sampler is not None:
            return tree.value[kids], tree.multiplicity[kids].astype(np.float64)
        return tree.value[kids], P.renormalised_prior(tree.log_prior[kids])


def sample_tree(
    tree: Tree, n: int, lam: float, rng: np.random.Generator | int | None = 0
) -> list[int]:
    """Draw ``n`` terminals from a built DTS tree by descents ∝ multiplicity·exp(lam·v).

    Needs no model calls; as the tree grows these descents follow p_theta·exp(lam·r)/Z.
    """
    lam = P.check_lam(lam)
    gen = as_rng(rng)
    out: list[int] = []
    for _ in range(n):
        node = 0
        while not tree.terminal[node]:
            kids = tree.children(node)
            kids = kids[tree.visits[kids] > 0]
            if len(kids) == 0:
                break
            with np.errstate(divide="ignore"):
                probs = P.boltzmann_probs(tree.value[kids], np.log(tree.multiplicity[kids]), lam)
            node = int(kids[P.sample_index(probs, gen)])
        out.append(node)
    return out
