"""Budgets are spent: every budgeted method ends within [0.9 B, B + one iteration's most] NFE, or
says its tree is exhausted (and then no slot is left to expand and no leaf left to score)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest
from mctd_tree import Budget, SearchResult, best_of_n, dts, dts_star, maxent_ts, mcts
from mctd_tree.problems import ToyLM, random_tree
from mctd_tree.problems.tokens import TokenSearchProblem

K = 4  # leaves per iteration (best-of-N: rows per batch)
DEPTH = 3
NEW_TOKENS = 6

METHODS: dict[str, Callable[[Any, Budget], SearchResult[Any]]] = {
    "mcts": lambda p, b: mcts(p, b, k=3, parallel=K, rng=0),
    "mcts_soft": lambda p, b: mcts(p, b, k=3, backup="soft", lam=2.0, parallel=K, rng=0),
    "dts": lambda p, b: dts(p, b, lam=2.0, parallel=K, rng=0),
    "dts_star": lambda p, b: dts_star(p, b, lam=2.0, backup="max", parallel=K, rng=0),
    "maxent_ts": lambda p, b: maxent_ts(p, b, k=3, lam=2.0, parallel=K, rng=0),
    "maxent_ts_lam10": lambda p, b: maxent_ts(p, b, k=4, lam=10.0, parallel=K, rng=0),
    "best_of_n": lambda p, b: best_of_n(p, b, batch_size=K, rng=0),
}


def letters(texts: Sequence[str]) -> np.ndarray:
    """Reward in [0, 1]: the share of 'a' and 'b' letters."""
    return np.array([sum(c in "ab" for c in t) / max(len(t), 1) for t in texts])


def token_problem() -> TokenSearchProblem:
    lm = ToyLM(8, seed=3, eos_bias=-1.5)
    return TokenSearchProblem(lm, [1, 2, 3], letters, k=4, max_new_tokens=NEW_TOKENS)


def check(res: SearchResult[Any], budget: int, most: int) -> None:
    spent = res.stats.nfe
    if spent < 0.9 * budget:  # only an exhausted tree may stop short
        tree = res.tree
        if tree is not None:  # nothing left: every slot materialised, every terminal scored
            n = tree.size
            assert tree.materialized[:n].all()
            term = tree.terminal[:n]
            assert not np.isnan(tree.reward[:n][term]).any()
        assert res.stats.exhausted
        return
    assert spent <= budget + most, (spent, budget)


@pytest.mark.parametrize("name", sorted(set(METHODS) - {"maxent_ts_lam10"}))
@pytest.mark.parametrize("budget", [20, 150, 600, 3000])
def test_budget_is_spent_on_an_exact_tree(name: str, budget: int) -> None:
    # One leaf: DEPTH sample rounds + 1 proposal + a rollout of DEPTH levels. Priors of
    # concentration 5 leave no slot so improbable that Boltzmann selection would need many
    # thousand free picks to reach it (that case ends as `stalled`: see below).
    res = METHODS[name](random_tree(3, DEPTH, seed=1, concentration=5.0), Budget(nfe=budget))
    check(res, budget, K * (2 * DEPTH + 1))


def test_a_search_whose_picks_find_no_work_stalls_instead_of_looping() -> None:
    # the last slots of a fully searched tree are so improbable under lam = 10 that the guard
    # ends the run (after STALL_ITERATIONS iterations of FREE_PICKS picks per leaf)
    res = maxent_ts(random_tree(3, 2, seed=0, concentration=0.2), Budget(nfe=1000), k=3, lam=10.0)
    assert res.stats.nfe < 20
    assert res.stats.stalled or res.stats.exhausted


@pytest.mark.parametrize("name", sorted(METHODS))
@pytest.mark.parametrize("budget", [30, 200, 800])
def test_budget_is_spent_on_a_token_problem(name: str, budget: int) -> None:
    # one leaf: a sampled chunk (a read), a proposal (a position, a read) and a rollout (a read
    # and its fed tokens); the prompt's prefill comes once
    res = METHODS[name](token_problem(), Budget(nfe=budget))
    check(res, budget, 3 + K * (2 * NEW_TOKENS + 4))


def test_an_exhausted_tree_stops_without_looping() -> None:
    res = mcts(random_tree(2, 2, seed=0), Budget(nfe=10_000), k=2, parallel=K, rng=0)
    assert res.stats.exhausted and res.stats.nfe < 20 and res.stats.simulations < 2000


def test_the_last_iterations_shrink_to_fit_the_budget() -> None:
    problem = token_problem()
    res = maxent_ts(problem, Budget(nfe=300), k=4, lam=2.0, parallel=8, rng=0)
    # a full last iteration could overshoot by 8 rollouts; shrunk it is about one
    assert res.stats.nfe <= 300 + 2 * (NEW_TOKENS + 4)


class EosFirst:
    """A problem whose model ends every completion at once (EOS first) and counts no work."""

    def __init__(self) -> None:
        from mctd_tree.protocols import Counters

        self.counters = Counters()

    def root(self) -> tuple[int, ...]:
        return ()

    def is_terminal(self, state: tuple[int, ...]) -> bool:
        return len(state) > 0

    def rollout(self, states: Sequence[tuple[int, ...]], rng: np.random.Generator) -> list:
        from mctd_tree.protocols import Child, Rollout

        return [Rollout([Child(0, (0,), 0.0)], 0.0, (0,)) for _ in states]


def test_best_of_n_ends_when_samples_cost_nothing() -> None:
    res = best_of_n(EosFirst(), Budget(nfe=100), batch_size=4)
    assert res.stats.exhausted and res.stats.simulations == 4


def test_best_of_n_with_a_model_that_emits_eos_first_spends_its_budget() -> None:
    lm = ToyLM(4, seed=0, eos_bias=50.0)  # EOS has all the mass
    problem = TokenSearchProblem(lm, [1, 2], letters, max_new_tokens=8)
    res = best_of_n(problem, Budget(nfe=40), batch_size=4, rng=0)
    assert all(s == (0,) for s, _ in res.samples)
    assert 36 <= res.stats.nfe <= 44 and res.stats.reads == res.stats.nfe - 2


def test_the_work_check_is_incremental_and_a_large_tree_spends_its_budget() -> None:
    # MaxEnt-TS at lam = 10 revisits scored terminals thousands of times (2878 simulations for
    # 250 NFE here), so a conditioned descent comes every 17 picks; the work mass it needs is
    # recomputed only at the nodes a pick changed and their ancestors (about 1.4 evaluations
    # per simulation here), not over the whole tree at every descent (4.1 per simulation on
    # this 304-node tree, growing with the tree: a walk over 10^4 nodes took seconds each)
    from functools import partial

    from mctd_tree import SearchConfig, TreeSearch
    from mctd_tree import policies as P

    calls = 0

    def reach(ch: P.Children, kids: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        return P.boltzmann_reach(ch, kids, lam=10.0)

    select, backup = partial(P.boltzmann_select, lam=10.0), partial(P.soft_update, lam=10.0)
    cfg = SearchConfig("enumerate", select, backup, reach, k=3, parallel=K)
    res = TreeSearch(random_tree(3, 5, seed=0), cfg, rng=0).run(Budget(nfe=250))
    assert res.stats.nfe >= 0.9 * 250 and not res.stats.stalled and not res.stats.exhausted
    assert res.stats.simulations > 2000  # the regime: mostly free picks
    assert calls <= 2 * res.stats.simulations
    # the same search as the public function (same seed, same tree)
    same = maxent_ts(random_tree(3, 5, seed=0), Budget(nfe=250), k=3, lam=10.0, parallel=K, rng=0)
    assert same.stats.simulations == res.stats.simulations and same.stats.nfe == res.stats.nfe
