"""TokenSearchProblem, the shared sampling rule and ToyLM (a numpy trigram LM)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pytest
from mctd_tree import (
    Budget,
    EnumerableProblem,
    LanguageModel,
    SamplingProblem,
    beam_search,
    best_of_n,
    dts,
    dts_star,
    greedy,
    maxent_ts,
    mcts,
)
from mctd_tree.problems.tokens import (
    TokenSearchProblem,
    process_logprobs,
    sample_from_logprobs,
)
from mctd_tree.problems.toy_lm import ToyLM


def count_a(texts: Sequence[str]) -> np.ndarray:
    """Reward: how many 'a' letters a completion holds."""
    return np.array([t.count("a") for t in texts], dtype=float)


def make(lm: ToyLM | None = None, **kw: object) -> TokenSearchProblem:
    lm = lm or ToyLM(8, seed=1, eos_bias=-1.0)
    kw = {"k": 3, "max_new_tokens": 6, **kw}
    return TokenSearchProblem(lm, [1, 2, 3], count_a, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ sampling rule
def test_greedy_sampling_draws_no_random_numbers() -> None:
    lp = np.log(np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3]]))
    rng = np.random.default_rng(3)
    before = rng.bit_generator.state
    assert sample_from_logprobs(lp, rng, temperature=0).tolist() == [1, 0]
    assert rng.bit_generator.state == before


def test_sampling_is_inverse_cdf_with_one_uniform_per_row() -> None:
    p = np.array([0.2, 0.5, 0.3])
    lp = np.log(np.tile(p, (4, 1)))
    u = np.random.default_rng(7).random(4)
    want = [int(np.searchsorted(np.cumsum(p), x * 1.0, side="right")) for x in u]
    got = sample_from_logprobs(lp, np.random.default_rng(7))
    assert got.tolist() == want


def test_sampling_frequencies_follow_the_distribution() -> None:
    p = np.array([0.1, 0.2, 0.3, 0.4])
    draws = sample_from_logprobs(np.log(np.tile(p, (20000, 1))), np.random.default_rng(0))
    freq = np.bincount(draws, minlength=4) / len(draws)
    assert np.allclose(freq, p, atol=0.015)


def test_top_k_and_top_p_truncate() -> None:
    lp = np.log(np.array([[0.05, 0.5, 0.15, 0.3]]))
    assert np.count_nonzero(process_logprobs(lp, 1.0, top_k=2)) == 2
    q = process_logprobs(lp, 1.0, top_p=0.7)  # 0.5 then 0.3 reach 0.7
    assert np.allclose(q, [[0, 0.5 / 0.8, 0, 0.3 / 0.8]])
    q = process_logprobs(lp, 1.0, top_p=0.5)  # the first token alone reaches 0.5
    assert np.allclose(q, [[0, 1, 0, 0]])
    assert sample_from_logprobs(lp, np.random.default_rng(0), top_k=1).tolist() == [1]


def test_temperature_sharpens() -> None:
    lp = np.log(np.array([[0.2, 0.8]]))
    q = process_logprobs(lp, 0.5)
    assert np.allclose(q, [[0.04 / 0.68, 0.64 / 0.68]])


# ------------------------------------------------------------------------- ToyLM
def test_toy_lm_is_a_language_model_and_counts_positions() -> None:
    lm = ToyLM(6, seed=0)
    assert isinstance(lm, LanguageModel)
    lm.next_logprobs([[1, 2, 3], [1, 2, 4]])
    # the shared 1,2 first, then 3 and 4 (a backend's rounds): 4 positions in 2 calls
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.reads) == (4, 2, 0)
    lm.next_logprobs([[1, 2, 3]])
    assert (lm.counters.nfe, lm.counters.calls, lm.counters.reads) == (5, 2, 1)  # a read
    gens = lm.generate([[1, 2, 3]], np.random.default_rng(0), max_new_tokens=5, temperature=0)
    fed = len(gens[0].tokens) - 1  # the last drawn token is never fed
    assert lm.counters.nfe == 6 + fed and lm.counters.reads == 2
    lm.reset_counters()
    lm.next_logprobs([[4, 4, 4, 4, 5], [4, 4, 4, 2]])  # 4,4,4 first; then tails of 2 and 1
    assert (lm.counters.nfe, lm.counters.padded, lm.counters.calls) == (3 + 3 + 1, 1, 2)
    lm.reset_counters()
    gens = lm.generate([[1, 2, 3], [1, 2, 3]], np.random.default_rng(0), max_new_tokens=[3, 1])
    assert len(gens[0].tokens) <= 3 and len(gens[1].tokens) == 1  # a cap per row
    fed = len(gens[0].tokens) - 1
    assert (lm.counters.nfe, lm.counters.reads) == (2 + fed, 2)  # each row reads; row 0 feeds
    naive = ToyLM(6, seed=0, cache=False)
    naive.next_logprobs([[1, 2, 3]])
    naive.next_logprobs([[1, 2, 3]])
    assert naive.counters.nfe == 6


def test_toy_generate_logprobs_are_the_model_log_probs() -> None:
    lm = ToyLM(6, seed=2)
    g = lm.generate([[1, 2]], np.random.default_rng(1), max_new_tokens=6, temperature=0.7)[0]
    seq = [1, 2]
    for tok, lp in zip(g.tokens, g.logprobs, strict=True):
        assert lp == pytest.approx(lm.logprobs_of(seq)[tok])
        seq.append(tok)


# -------------------------------------------------------------- the search problem
def test_problem_implements_both_protocols() -> None:
    prob = make()
    assert isinstance(prob, SamplingProblem)
    assert isinstance(prob, EnumerableProblem)
    assert prob.root() == ()
    assert prob.counters is prob.lm.counters


def test_terminal_rules_count_completion_tokens_only() -> None:
    prob = make(max_new_tokens=3, stop=("cb",))
    assert not prob.is_terminal(())
    assert not prob.is_terminal((1, 1))
    assert prob.is_terminal((1, 1, 1))  # length 3 (the 3 prompt tokens are not counted)
    assert prob.is_terminal((1, 0))  # EOS
    assert prob.is_terminal((3, 2))  # text "cb" holds the stop string
    assert prob.completion_text((1, 3, 2)) == "a"  # "acb" cut before the stop string


def test_propose_gives_distinct_top_k_with_model_log_probs() -> None:
    prob = make(k=4)
    states = [(), (2,), (2, 5)]
    props = prob.propose(states, 3)  # algorithm's k=3 below the problem's k=4
    for s, p in zip(states, props, strict=True):
        ref = prob.lm.logprobs_of(prob.prefix(s))  # type: ignore[attr-defined]
        top = np.argsort(-ref, kind="stable")[:3]
        assert sorted(p.actions.tolist()) == sorted(top.tolist())
        assert np.allclose(p.log_priors, ref[p.actions])
        assert np.all(np.diff(p.log_priors) <= 0)
    assert len(prob.propose([()], 10)[0].actions) == 4  # capped by the problem's k
    assert prob.step([(2,)], [5]) == [(2, 5)]


def test_sample_draws_from_p_theta_with_raw_log_prior() -> None:
    prob = make()
    kids = prob.sample([(), (2,)], np.random.default_rng(0))
    for s, ch in zip([(), (2,)], kids, strict=True):
        assert ch.state == (*s, ch.action)
        ref = prob.lm.logprobs_of(prob.prefix(s))  # type: ignore[attr-defined]
        assert ch.log_prior == pytest.approx(ref[ch.action])
    again = make().sample([(), (2,)], np.random.default_rng(0))
    assert [c.action for c in again] == [c.action for c in kids]


def test_rollout_scores_the_completion_and_returns_the_path() -> None:
    seen: list[str] = []

    def reward(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)
        return count_a(texts)

    lm = ToyLM(8, seed=1, eos_bias=-1.0)
    prob = TokenSearchProblem(lm, [1, 2, 3], reward, k=3, max_new_tokens=6)
    outs = prob.rollout([(), (4,), (1, 0)], np.random.default_rng(0))
    assert outs[2].path == [] and outs[2].terminal == (1, 0)  # already terminal: scored only
    for start, out in zip([(), (4,)], outs[:2], strict=True):
        assert out.terminal[: len(start)] == start
        assert prob.is_terminal(out.terminal)
        assert len(out.terminal) <= 6
        assert [c.state for c in out.path][-1] == out.terminal
        assert out.reward == out.terminal.count(1)  # token 1 is "a"; the prompt is not scored
        assert out.info["finish_reason"] in ("eos", "length")
    assert seen == [prob.completion_text(o.terminal) for o in outs]


def test_nan_reward_is_rejected_by_name() -> None:
    prob = TokenSearchProblem(
        ToyLM(8, seed=1), [1, 2], lambda t: np.full(len(t), np.nan), k=2, max_new_tokens=3
    )
    with pytest.raises(ValueError, match="NaN"):
        prob.rollout([()], np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"prompt": []}, "empty prompt"),
        ({"prompt": [1] * 16}, "context"),
        ({"k": 0}, "k must be"),
        ({"temperature": -0.5}, "temperature"),
        ({"chunk": 0}, "chunk"),
        ({"top_p": 0.0}, "top_p"),
    ],
)
def test_bad_input_raises(kwargs: dict[str, object], match: str) -> None:
    prompt = kwargs.pop("prompt", [1, 2])
    with pytest.raises(ValueError, match=match):
        TokenSearchProblem(ToyLM(8, max_context=16), prompt, count_a, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="k must be"):
        make().propose([()], 0)


def test_chunked_edges_are_greedy_extensions_of_distinct_first_tokens() -> None:
    prob = make(chunk=3, k=3, max_new_tokens=7)
    lm: ToyLM = prob.lm  # type: ignore[assignment]
    (props,) = prob.propose([()], 3)
    firsts = set()
    for a, lp in zip(props.actions, props.log_priors, strict=True):
        toks = prob.chunk_tokens(int(a))
        assert 1 <= len(toks) <= 3
        firsts.add(toks[0])
        seq, total = list(prob.prompt), 0.0
        for j, t in enumerate(toks):
            row = lm.logprobs_of(seq)
            if j > 0:
                assert t == int(np.argmax(row))  # greedy after the first token
            total += float(row[t])
            seq.append(t)
        assert lp == pytest.approx(total)
    assert len(firsts) == len(props.actions)
    (state,) = prob.step([()], [int(props.actions[0])])
    assert state == prob.chunk_tokens(int(props.actions[0]))
    out = prob.rollout([state], np.random.default_rng(1))[0]
    edges = [prob.chunk_tokens(c.action) for c in out.path]
    assert state + sum(edges, ()) == out.terminal
    assert all(len(e) == 3 for e in edges[:-1])
    kid = prob.sample([()], np.random.default_rng(2))[0]
    assert kid.state == prob.chunk_tokens(kid.action) and len(kid.state) <= 3


def test_counters_mirror_the_model_with_a_hand_count() -> None:
    lm = ToyLM(8, seed=1)
    prob = TokenSearchProblem(lm, [1, 2, 3], count_a, k=2, max_new_tokens=4)
    prob.propose([()], 2)
    assert (prob.counters.nfe, prob.counters.calls) == (3, 1)  # the prompt, once
    prob.propose([(5,), (6,)], 2)
    assert (prob.counters.nfe, prob.counters.calls) == (5, 2)  # one token per child
    out = prob.rollout([(5,)], np.random.default_rng(0))[0]
    fed = len(out.terminal) - 1 - 1  # new tokens fed: all but the last drawn
    assert prob.counters.nfe == 5 + 1 + fed  # the read of (5,)'s cached distribution, the feed


ALGORITHMS = {
    "maxent_ts": lambda p: maxent_ts(p, Budget(simulations=12), k=3, lam=2.0, parallel=3, rng=0),
    "mcts": lambda p: mcts(p, Budget(simulations=12), k=3, rng=0),
    "dts": lambda p: dts(p, Budget(simulations=12), lam=2.0, rng=0),
    "dts_star": lambda p: dts_star(p, Budget(simulations=12), lam=2.0, rng=0),
    "best_of_n": lambda p: best_of_n(p, 8, rng=0),
    "greedy": lambda p: greedy(p),
    "beam": lambda p: beam_search(p, 3),
}


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_every_search_runs_on_tokens(name: str) -> None:
    prob = make(max_new_tokens=5)
    res = ALGORITHMS[name](prob)
    assert res.best_state is not None and prob.is_terminal(res.best_state)
    assert res.best_reward == count_a([prob.completion_text(res.best_state)])[0]
    assert 0 < res.stats.nfe <= prob.counters.nfe


class Ledger:
    """Records the distinct positions a search needed (independently of the model's counting)."""

    def __init__(self, lm: ToyLM) -> None:
        self.lm, self.needed = lm, set()

    def __getattr__(self, name: str) -> object:
        return getattr(self.lm, name)

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        for p in prefixes:
            self.needed.update(tuple(p[:j]) for j in range(1, len(p) + 1))
        return self.lm.next_logprobs(prefixes)

    def generate(self, prefixes: Sequence[Sequence[int]], rng: object, **kw: object) -> list:
        gens = self.lm.generate(prefixes, rng, **kw)  # type: ignore[arg-type]
        for p, g in zip(prefixes, gens, strict=True):
            seq = [*p, *g.tokens[:-1]]
            self.needed.update(tuple(seq[:j]) for j in range(1, len(seq) + 1))
        return gens


def test_cached_search_pays_for_needed_positions_and_little_more() -> None:
    """Processed positions (reads and padding excluded) cover every needed position; rollouts
    that retrace cached tokens are fed again (as the backends decode), nothing else repeats."""
    lm = ToyLM(8, seed=4)
    ledger = Ledger(lm)
    cached = TokenSearchProblem(ledger, [1, 2, 3], count_a, k=3, max_new_tokens=8)  # type: ignore[arg-type]
    res = maxent_ts(cached, Budget(simulations=20), k=3, lam=1.0, parallel=4, rng=0)
    c = lm.counters
    positions = c.nfe - c.reads - c.padded
    assert len(ledger.needed) <= positions <= 1.3 * len(ledger.needed)
    assert c.reads >= res.stats.iterations  # rollouts start from cached leaves
    naive = make(ToyLM(8, seed=4, cache=False), max_new_tokens=8)
    res2 = maxent_ts(naive, Budget(simulations=20), k=3, lam=1.0, parallel=4, rng=0)
    assert res2.best_state == res.best_state  # same tree, same draws
    assert naive.counters.nfe > 2 * c.nfe
    assert math.isfinite(res.best_reward)


def _stop_across(lm: ToyLM, state: tuple[int, ...]) -> str:
    """A stop string made of the state's last letter and the greedy next letter."""
    nxt = int(np.argmax(lm.logprobs_of([1, 2, 3, *state])))
    assert nxt != 0, "pick a state whose greedy next token is a letter"
    return lm.decode([state[-1], nxt])


def test_a_stop_string_split_across_state_and_rollout_ends_the_rollout() -> None:
    lm = ToyLM(8, seed=1, eos_bias=-3.0)
    stop = _stop_across(lm, (4,))
    prob = make(lm, max_new_tokens=8, stop=(stop,), temperature=0.0)
    assert not prob.is_terminal((4,))
    out = prob.rollout([(4,)], np.random.default_rng(0))[0]
    assert len(out.terminal) == 2 and prob.is_terminal(out.terminal)  # cut right after the stop
    assert out.info["finish_reason"] == "stop" and len(out.path) == 1
    kid = prob.sample([(4,)], np.random.default_rng(0))[0]  # the same for a sampled edge
    assert kid.state == out.terminal


@pytest.mark.parametrize("algo", ["dts", "dts_star"])
def test_the_tree_never_grows_below_a_terminal(algo: str) -> None:
    lm = ToyLM(8, seed=1, eos_bias=-3.0)
    stops = ("ca", "dc", "bd", "ee")  # short stops: many split across state and rollout
    prob = make(lm, max_new_tokens=10, stop=stops)
    search = dts if algo == "dts" else dts_star
    tree = search(prob, Budget(nfe=400), lam=2.0, parallel=4, rng=0).tree
    assert tree is not None
    for n in range(1, tree.size):
        assert not tree.terminal[tree.parent[n]]
        if tree.terminal[n]:
            assert prob.is_terminal(tree.states[n]) and not np.isnan(tree.reward[n])


def test_one_distribution_for_priors_draws_and_rollouts() -> None:
    prob = make(temperature=0.5, top_p=0.8, k=8)
    assert prob.distribution == "p_theta at temperature 0.5, top-p 0.8"
    ref = prob.log_q(prob.lm.next_logprobs([prob.prefix(())]))[0]  # type: ignore[attr-defined]
    assert np.isclose(np.exp(ref[np.isfinite(ref)]).sum(), 1.0)
    prop = prob.propose([()], 8)[0]
    assert np.allclose(prop.log_priors, ref[prop.actions])
    assert len(prop.actions) == np.isfinite(ref).sum()  # only q's nucleus is proposed
    kid = prob.sample([()], np.random.default_rng(0))[0]
    assert kid.log_prior == pytest.approx(ref[kid.action])
    out = prob.rollout([()], np.random.default_rng(1))[0]
    for edge, before in zip(out.path, [(), *[e.state for e in out.path]], strict=False):
        lq = prob.log_q(prob.lm.logprobs_of(prob.prefix(before))[None])[0]  # type: ignore[attr-defined]
        assert edge.log_prior == pytest.approx(lq[edge.action])
    assert make().distribution == "p_theta"


def test_ragged_rollouts_are_one_generate_call() -> None:
    prob = make(max_new_tokens=6)
    calls: list[object] = []
    lm = prob.lm
    real = lm.generate

    def spy(prefixes, rng, **kw):  # type: ignore[no-untyped-def]
        calls.append(kw["max_new_tokens"])
        return real(prefixes, rng, **kw)

    lm.generate = spy  # type: ignore[method-assign]
    prob.rollout([(), (2,), (2, 5, 5)], np.random.default_rng(0))
    assert calls == [[6, 5, 3]]
