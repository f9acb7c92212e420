"""The engine at K = 1 against independent, plain sequential DTS and MaxEnt-TS, node for node.

Each reference keeps its tree in dicts keyed by state, written from the papers' pseudocode (see
PAPERS.md §1-2), and draws its random numbers in the sequential algorithm's order: selection,
then the problem's draw, then the rollout. Only `sample_index` (one uniform per draw, the rule
every mctd draw uses) is shared with the engine.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
from mctd_tree import dts, maxent_ts
from mctd_tree import policies as P
from mctd_tree.policies import sample_index
from mctd_tree.problems import random_tree


def _soft(values: list[float], weights: list[float], lam: float) -> float:
    total = sum(weights)
    z = [lam * v + math.log(w / total) for v, w in zip(values, weights, strict=True)]
    m = max(z)
    return (m + math.log(sum(math.exp(x - m) for x in z))) / lam


def _boltzmann(values: list[float], log_w: list[float], lam: float) -> np.ndarray:
    z = np.array([lam * v + lw for v, lw in zip(values, log_w, strict=True)])
    p = np.exp(z - z.max())
    return p / p.sum()


class RefTree:
    """Statistics per state: children in creation order, visits, value, multiplicity, prior."""

    def __init__(self) -> None:
        self.kids: dict[tuple, list[tuple]] = {(): []}
        self.visits: dict[tuple, int] = {}
        self.value: dict[tuple, float] = {}
        self.mult: dict[tuple, int] = {}
        self.prior: dict[tuple, float] = {}
        self.reward: dict[tuple, float] = {}

    def add(self, parent: tuple, child: tuple, log_prior: float) -> bool:
        if child in self.kids:
            return False
        self.kids[parent].append(child)
        self.kids[child] = []
        self.prior[child] = log_prior
        return True

    def q(self, state: tuple) -> list[float]:
        fpu = self.value.get(state, 0.0)
        return [self.value.get(c, fpu) for c in self.kids[state]]

    def backup(self, path: list[tuple], ret: float, lam: float, weight) -> None:
        for s in path:
            self.visits[s] = self.visits.get(s, 0) + 1
        for s in reversed(path):
            seen = [c for c in self.kids[s] if self.visits.get(c, 0) > 0]
            if not seen:
                self.value[s] = self.reward.get(s, ret)
            else:
                self.value[s] = _soft([self.value[c] for c in seen], weight(seen), lam)


def reference_dts(problem, sims: int, lam: float, c_widen: float, alpha: float, rng):
    """Sequential DTS: Boltzmann over multiplicity·exp(lam·v), widening C·N^alpha, rollout
    states kept, soft (log-mean-exp) backup weighted by multiplicity."""
    t = RefTree()
    for _ in range(sims):
        state, path = (), [()]
        while not problem.is_terminal(state):
            draws = sum(t.mult[c] for c in t.kids[state])
            if draws < max(1.0, c_widen * t.visits.get(state, 0) ** alpha):
                ch = problem.sample([state], rng)[0]
                created = t.add(state, ch.state, ch.log_prior)
                t.mult[ch.state] = t.mult.get(ch.state, 0) + 1
                state = ch.state
                path.append(state)
                if created:
                    break
                continue
            log_w = [math.log(t.mult[c]) for c in t.kids[state]]
            state = t.kids[state][sample_index(_boltzmann(t.q(state), log_w, lam), rng)]
            path.append(state)
        if state not in t.reward:
            out = problem.rollout([state], rng)[0]
            for edge in out.path:
                t.add(state, edge.state, edge.log_prior)
                t.mult[edge.state] = t.mult.get(edge.state, 0) + 1
                state = edge.state
                path.append(state)
            t.reward[state] = out.reward
        t.backup(path, t.reward[state], lam, lambda seen: [t.mult[c] for c in seen])
    return t


def reference_maxent_ts(problem, sims: int, k: int, lam: float, rng, condition_after: int = 16):
    """Sequential MaxEnt-TS: top-k slots, selection ∝ p(a|s)·exp(lam·v_a) (unvisited slots
    at the parent's value), rollouts not stored, soft backup weighted by p renormalised over
    the children that have a value. After ``condition_after`` picks in a row that only revisit
    scored terminals, one descent is conditioned on reaching work (the engine's shortcut)."""
    t = RefTree()

    def probs(state: tuple) -> np.ndarray:
        return _boltzmann(t.q(state), [t.prior[c] for c in t.kids[state]], lam)

    def work(state: tuple) -> float:
        if state not in made:
            return 1.0
        if problem.is_terminal(state):
            return float(state not in t.reward)
        return float(sum(p * work(c) for p, c in zip(probs(state), t.kids[state], strict=True)))

    def propose(state: tuple) -> None:
        prop = problem.propose([state], k)[0]
        for a, lp in zip(prop.actions, prop.log_priors, strict=True):
            t.add(state, (*state, int(a)), float(lp))

    propose(())
    made = {()}
    streak = 0
    for _ in range(sims):
        state, path = (), [()]
        conditioned, streak = streak >= condition_after, streak + 1
        while not problem.is_terminal(state):
            p = probs(state)
            if conditioned:
                p = p * np.array([work(c) for c in t.kids[state]])
                p = p / p.sum()
            state = t.kids[state][sample_index(p, rng)]
            path.append(state)
            if state not in made:
                made.add(state)
                if not problem.is_terminal(state):
                    propose(state)
                break
        if state in t.reward:
            ret = t.reward[state]
        else:
            streak = 0
            ret = problem.rollout([state], rng)[0].reward
            if problem.is_terminal(state):
                t.reward[state] = ret

        def weight(seen: list[tuple]) -> list[float]:
            lp = np.array([t.prior[c] for c in seen])
            return list(np.exp(lp - lp.max()))

        t.backup(path, ret, lam, weight)
    return t, made


def _engine_stats(tree) -> dict[tuple, tuple[int, float, int]]:
    return {
        tree.states[n]: (int(tree.visits[n]), float(tree.value[n]), int(tree.multiplicity[n]))
        for n in range(tree.size)
        if tree.materialized[n]
    }


@pytest.mark.parametrize(("seed", "lam"), [(0, 1.0), (1, 3.0), (2, 0.5)])
def test_dts_k1_equals_the_sequential_reference(seed: int, lam: float) -> None:
    problem = random_tree(3, 4, seed=seed)
    res = dts(problem, 150, lam=lam, alpha=0.7, rng=np.random.default_rng(seed))
    ref = reference_dts(
        random_tree(3, 4, seed=seed), 150, lam, 2.0, 0.7, np.random.default_rng(seed)
    )
    got = _engine_stats(res.tree)
    assert set(got) == set(ref.kids)
    for state, (visits, value, mult) in got.items():
        assert visits == ref.visits.get(state, 0), state
        assert mult == ref.mult.get(state, 0), state
        if visits:
            assert value == pytest.approx(ref.value[state], abs=1e-9), state


@pytest.mark.parametrize(("seed", "lam", "k"), [(0, 1.0, 3), (1, 4.0, 2), (3, 0.5, 3)])
def test_maxent_ts_k1_equals_the_sequential_reference(seed: int, lam: float, k: int) -> None:
    problem = random_tree(3, 4, seed=seed)
    res = maxent_ts(problem, 150, k=k, lam=lam, rng=np.random.default_rng(seed))
    ref, made = reference_maxent_ts(
        random_tree(3, 4, seed=seed), 150, k, lam, np.random.default_rng(seed)
    )
    got = _engine_stats(res.tree)
    assert set(got) == made
    for state, (visits, value, _) in got.items():
        assert visits == ref.visits.get(state, 0), state
        if visits:
            assert value == pytest.approx(ref.value[state], abs=1e-9), state
    slots = {
        res.tree.states[res.tree.parent[n]] + (int(res.tree.action[n]),)
        for n in range(1, res.tree.size)
    }
    assert slots == set(ref.kids) - {()}


def test_a_descent_conditioned_on_work_has_the_law_of_the_first_working_pick() -> None:
    from collections import Counter

    from mctd_tree.search import SearchConfig, TreeSearch, _Pending

    search = TreeSearch(
        random_tree(3, 3, seed=4),
        SearchConfig(
            "enumerate",
            partial(P.boltzmann_select, lam=2.0),
            partial(P.soft_update, lam=2.0),
            partial(P.boltzmann_reach, lam=2.0),
            k=3,
        ),
    )
    search.run(40)
    plain: Counter[int] = Counter()
    free = 0
    while sum(plain.values()) < 1500:
        job = search._select(_Pending())
        assert job is not None
        if search._scored(job.node):
            free += 1
        else:
            plain[job.node] += 1
    assert free > 300  # the regime the shortcut is for
    conditioned = Counter(search._select_work(_Pending()).node for _ in range(1500))  # type: ignore[union-attr]
    nodes = set(plain) | set(conditioned)
    assert len(nodes) > 2
    tv = 0.5 * sum(abs(plain[n] - conditioned[n]) / 1500 for n in nodes)
    assert tv < 0.08
