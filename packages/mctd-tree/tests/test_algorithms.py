"""Algorithms on exact toy trees: targets by enumeration, optima, parallel equivalence."""

import math
from functools import partial

import numpy as np
import pytest
from mctd_tree import (
    Budget,
    SearchConfig,
    TreeSearch,
    beam_search,
    best_of_n,
    dts,
    dts_star,
    greedy,
    maxent_ts,
    mcts,
    sample_tree,
)
from mctd_tree import policies as P
from mctd_tree.problems import GaussianWalk, deceptive_tree, random_tree


def tv(p, q):
    return 0.5 * float(np.abs(np.asarray(p) - np.asarray(q)).sum())


def leaf_freqs(problem, leaves):
    idx = [problem.leaf_index(s) for s in leaves]
    return np.bincount(idx, minlength=problem.branching**problem.depth) / len(idx)


@pytest.mark.parametrize("lam", [1.0, 3.0])
def test_dts_samples_follow_tilted_target(lam):
    problem = random_tree(3, 3, seed=1)
    target = problem.target(lam)
    assert tv(target, problem.target(1e-9)) > 0.1  # the tilt matters: the test can fail
    result = dts(problem, 10_000, lam=lam, rng=0)
    descents = sample_tree(result.tree, 20_000, lam, rng=1)
    freqs = leaf_freqs(problem, [result.tree.states[n] for n in descents])
    assert tv(freqs, target) < 0.05
    # and the root's soft value converges to the exact (1/lam) log E_p exp(lam r)
    assert result.tree.value[0] == pytest.approx(problem.soft_value((), lam), abs=0.01)


def _walk_tilted_mean(select_lam, seeds=4, sims=2000):
    means = []
    for seed in range(seeds):
        problem = GaussianWalk(depth=4, step_std=1.0, goal=3.0)
        tree = dts(problem, sims, lam=1.0, select_lam=select_lam, parallel=16, rng=seed).tree
        ends = [tree.states[n][1] for n in sample_tree(tree, 4000, 1.0, rng=seed)]
        means.append(float(np.mean(ends)))
    return float(np.mean(means))


def test_dts_on_a_continuous_tree_and_the_selection_temperature():
    """Children never repeat (as in diffusion): tempered selection matches the closed form; the
    paper's rule (select_lam = lam) is biased toward the prior (mean 2.30 against 2.40)."""
    target_mean, _ = GaussianWalk(depth=4, step_std=1.0, goal=3.0).target(1.0)
    tempered = _walk_tilted_mean(0.3)
    assert tempered == pytest.approx(target_mean, abs=0.05)
    assert _walk_tilted_mean(None) < tempered - 0.03


def test_gaussian_walk_problem():
    problem = GaussianWalk(depth=3, step_std=0.5, goal=1.0)
    rng = np.random.default_rng(0)
    outs = problem.rollout([problem.root()] * 4000, rng)
    ends = np.array([o.terminal[1] for o in outs])
    assert ends.std() == pytest.approx(np.sqrt(3) * 0.5, rel=0.05)
    assert outs[0].reward == pytest.approx(-0.5 * (ends[0] - 1.0) ** 2)
    assert len({c.action for o in outs for c in o.path}) == 3 * 4000  # draws never repeat
    assert problem.counters.nfe == 3 * 4000
    mean, std = problem.target(2.0)  # precision 1/0.75 + 2
    assert std == pytest.approx((1 / 0.75 + 2) ** -0.5) and mean == pytest.approx(2 * std**2)
    with pytest.raises(ValueError, match="step_std"):
        GaussianWalk(step_std=0.0)


def test_select_lam_is_validated_by_name():
    with pytest.raises(ValueError, match="select_lam"):
        dts(random_tree(2, 2), 10, select_lam=0.0)


def test_dts_soft_values_match_enumeration_on_every_visited_node():
    problem, lam = random_tree(2, 4, seed=3), 2.0
    tree = dts(problem, 6000, lam=lam, rng=2).tree
    busy = [n for n in range(tree.size) if tree.visits[n] >= 1000]
    assert len(busy) > 5
    for n in busy:
        assert tree.value[n] == pytest.approx(problem.soft_value(tree.states[n], lam), abs=0.03)


def test_greedy_fails_on_the_deceptive_tree():
    problem = deceptive_tree()
    optimum = problem.optimum()[1]
    assert greedy(problem).best_reward < optimum
    assert beam_search(deceptive_tree(), 3).best_reward < optimum


@pytest.mark.parametrize("seed", range(6))
def test_mcts_and_dts_star_find_the_deceptive_optimum(seed):
    # Stated budgets: MCTS (UCT, enumerated) within 200 simulations, DTS* (sampled children,
    # progressive widening, the max backup the DTS paper used for search) within 2000. (With
    # the soft backup seed 3 settles on the lure: soft values reward the lure's many 0.6 leaves.)
    assert mcts(deceptive_tree(), 200, k=3, rng=seed).best_reward == 1.0
    assert mcts(deceptive_tree(), 200, k=3, backup="max", rng=seed).best_reward == 1.0
    res = dts_star(deceptive_tree(), 2000, lam=10.0, c=0.5, backup="max", rng=seed)
    assert res.best_reward == 1.0
    descent = dts_star(
        deceptive_tree(), 2000, lam=10.0, c=0.5, backup="max", readout="descent", rng=seed
    )
    assert descent.best_reward == 1.0  # under the max backup the argmax descent agrees


def _reference_uct(problem, sims, k, c, rng, condition_after=16):
    """An independent, plain sequential UCT (dicts keyed by state) to check the engine against.

    After ``condition_after`` picks in a row that only revisit a scored terminal, one descent
    chooses among the children with work left below them (the engine's shortcut)."""
    visits, value = {}, {}

    def kids_of(state):
        prop = problem.propose([state], k)[0]
        return [(*state, int(a)) for a in prop.actions]  # sorted by prior, highest first

    def has_work(state):
        if problem.is_terminal(state):
            return False  # a visited terminal is scored
        return any(visits.get(s, 0) == 0 or has_work(s) for s in kids_of(state))

    streak = 0
    for _ in range(sims):
        restrict = streak >= condition_after
        state, path = (), [()]
        while not problem.is_terminal(state):
            kids = kids_of(state)
            fresh = [s for s in kids if visits.get(s, 0) == 0]
            if fresh:
                state = problem.step([state], [fresh[0][-1]])[0]
                path.append(state)
                break
            n = visits[state]
            cands = [s for s in kids if has_work(s)] if restrict else kids
            scores = [value[s] + c * math.sqrt(math.log(n) / visits[s]) for s in cands]
            state = cands[int(np.argmax(scores))]
            path.append(state)
        revisit = problem.is_terminal(state) and visits.get(state, 0) > 0
        streak = streak + 1 if revisit else 0
        ret = problem.rollout([state], rng)[0].reward
        for s in path:
            visits[s] = visits.get(s, 0) + 1
            value[s] = value.get(s, ret) + (ret - value.get(s, ret)) / visits[s]
    return visits, value


def test_engine_with_k1_equals_a_plain_sequential_uct():
    sims = 300
    ref_visits, ref_value = _reference_uct(
        random_tree(3, 4, seed=5), sims, 3, 1.0, np.random.default_rng(7)
    )
    result = mcts(random_tree(3, 4, seed=5), sims, k=3, c=1.0, parallel=1, rng=7)
    tree = result.tree
    live = [n for n in range(tree.size) if tree.visits[n] > 0]
    assert {tree.states[n]: int(tree.visits[n]) for n in live} == ref_visits
    for n in live:
        assert tree.value[n] == ref_value[tree.states[n]]  # bit for bit


@pytest.mark.parametrize(
    "algo",
    [
        lambda p, **kw: mcts(p, 200, k=3, **kw),
        lambda p, **kw: dts(p, 200, lam=2.0, **kw),
        lambda p, **kw: dts_star(p, 200, **kw),
        lambda p, **kw: maxent_ts(p, 200, k=3, lam=2.0, **kw),
    ],
)
def test_parallel_k1_is_the_sequential_run(algo):
    a = algo(random_tree(3, 4, seed=2), parallel=1, virtual_weight=1.0, rng=3)
    b = algo(random_tree(3, 4, seed=2), parallel=1, virtual_weight=7.0, rng=3)
    n = a.tree.size
    assert n == b.tree.size
    for name in ("parent", "action", "visits", "multiplicity"):
        assert np.array_equal(getattr(a.tree, name)[:n], getattr(b.tree, name)[:n])
    assert np.array_equal(a.tree.value[:n], b.tree.value[:n], equal_nan=True)
    assert a.samples == b.samples and a.stats.simulations == 200


def test_parallel_k8_same_answers_with_8x_fewer_calls():
    seq = mcts(deceptive_tree(), 400, k=3, rng=0, parallel=1)
    par = mcts(deceptive_tree(), 400, k=3, rng=0, parallel=8)
    assert seq.best_reward == par.best_reward == 1.0
    assert (
        par.stats.iterations <= 60
    )  # the first batch is cut short once the root slots are claimed
    big_seq = dts_star(random_tree(4, 8, seed=0), 400, rng=0, parallel=1)
    big_par = dts_star(random_tree(4, 8, seed=0), 400, rng=0, parallel=8)
    # duplicate draws cost extra sample rounds and a batch waits for its deepest rollout
    assert big_seq.stats.calls / big_par.stats.calls > 5.0
    assert big_par.stats.nfe == pytest.approx(big_seq.stats.nfe, rel=0.25)


def test_parallel_picks_are_distinct_slots():
    # K = 9 leaves in the first iteration of a 3-ary tree: no slot is expanded twice
    search = TreeSearch(
        random_tree(3, 4, seed=0),
        SearchConfig(
            "enumerate", partial(P.uct_select, c=math.sqrt(2.0)), P.mean_update, k=3, parallel=9
        ),
    )
    search.iterate(9)
    tree = search.tree
    created = [n for n in range(tree.size) if tree.materialized[n] and n != 0]
    assert len(created) == len({tree.states[n] for n in created})


def test_nfe_budget_and_counters():
    problem = random_tree(3, 5, seed=0)
    result = dts(problem, Budget(nfe=500), rng=0)
    assert 500 <= result.stats.nfe < 520
    assert result.stats.nfe == problem.counters.nfe
    assert result.stats.nodes == result.tree.num_materialized()
    assert result.stats.max_depth == 5 and result.stats.mean_branching >= 1.0


def test_best_of_n_and_beam():
    problem = random_tree(3, 3, seed=4)
    res = best_of_n(problem, 50, rng=0)
    assert len(res.samples) == 50 and res.best_reward == max(r for _, r in res.samples)
    assert res.stats.nfe == 150
    beam = beam_search(random_tree(3, 3, seed=4), 27)
    assert beam.best_reward == problem.optimum()[1]  # width 27 on 27 leaves is exhaustive


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: dts(p, 10, lam=0.0), "lam"),
        (lambda p: dts(p, 10, lam=-1.0), "lam"),
        (lambda p: maxent_ts(p, 10, lam=float("nan")), "lam"),
        (lambda p: mcts(p, 10, parallel=0), "parallel"),
        (lambda p: mcts(p, 0), "simulations"),
        (lambda p: dts(p, Budget(nfe=0)), "nfe"),
        (lambda p: mcts(p, 10, k=0), "k"),
        (lambda p: best_of_n(p, 0), "simulations"),
        (lambda p: beam_search(p, 0), "width"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call(random_tree(2, 2))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_rewards_are_refused_naming_the_node(bad):
    problem = random_tree(2, 3, seed=0)
    problem.rewards[:] = bad
    for algo in (lambda p: dts(p, 5), lambda p: mcts(p, 5, k=2), lambda p: best_of_n(p, 3)):
        with pytest.raises(ValueError, match="not finite"):
            algo(problem)


def test_a_rollout_can_stop_the_search_early():
    problem = deceptive_tree()
    original = problem.rollout

    def rollout(states, rng):
        outs = original(states, rng)
        for o in outs:
            o.info["stop"] = o.reward == 1.0
        return outs

    problem.rollout = rollout
    res = mcts(problem, 5000, k=3, rng=0)
    assert res.best_reward == 1.0 and res.stats.stopped_early
    assert res.stats.simulations < 5000


def test_counters_include_the_root_expansion():
    problem = random_tree(3, 3, seed=0)
    res = mcts(problem, 5, k=3)
    assert res.stats.nfe == problem.counters.nfe and res.stats.calls == problem.counters.calls
