"""Search over unmasking: DTS, DTS*, MCTS and best-of-N run on the dLM with honest NFE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_thought import (
    KeywordReward,
    ThoughtLoadError,
    UnmaskProblem,
    load_model,
    save_model,
)
from mctd_thought.testing import decode, tiny_model
from mctd_tree import Budget, SamplingProblem, best_of_n, dts, dts_star, mcts
from mctd_tree.protocols import EnumerableProblem

MODEL = tiny_model("thought", seed=0, scale=0.5)


def _problem(**kw: object) -> UnmaskProblem:
    reward = KeywordReward(["a", "e"])
    return UnmaskProblem(MODEL, [0, 1], reward, decode, answer_len=8, per_step=2, **kw)  # type: ignore[arg-type]


def test_protocols_and_step_structure() -> None:
    p = _problem(block=4)
    assert isinstance(p, SamplingProblem) and isinstance(p, EnumerableProblem)
    root = p.root()
    assert root == (MODEL.mask_id,) * 8 and not p.is_terminal(root)
    kids = p.sample([root, root], np.random.default_rng(0))
    for c in kids:
        known = [i for i, t in enumerate(c.state) if t != MODEL.mask_id]
        assert len(known) == 2 and all(i < 4 for i in known)  # first block only
        assert p.step([root], [c.action])[0] == c.state
    props = p.propose([root], 3)[0]
    assert len(props.actions) == 3 and np.all(props.log_priors <= 0)
    assert p.counters.calls == 2 and p.counters.nfe == 3 * 10


def test_rollout_counts_every_forward_and_keeps_tokens() -> None:
    p = _problem()
    child = p.sample([p.root()], np.random.default_rng(1))[0]
    before = p.counters.snapshot()
    out = p.rollout([child.state], np.random.default_rng(2))[0]
    assert p.is_terminal(out.terminal) and len(out.path) == 3
    assert all(a == b for a, b in zip(child.state, out.terminal, strict=True) if a != MODEL.mask_id)
    used = p.counters.since(before)
    assert used.calls == 3 and used.nfe == 3 * 10
    assert out.reward == float(KeywordReward(["a", "e"])([p.text(out.terminal)])[0])


@pytest.mark.parametrize("algo", ["dts", "dts_star", "mcts", "best_of_n"])
def test_searches_run_with_an_nfe_budget(algo: str) -> None:
    p = _problem(block=4)
    budget = Budget(nfe=400)
    if algo == "dts":
        res = dts(p, budget, lam=2.0, rng=0)
    elif algo == "dts_star":
        res = dts_star(p, budget, rng=0)
    elif algo == "mcts":
        res = mcts(p, budget, k=3, rng=0)
    else:
        res = best_of_n(p, budget, batch_size=4, rng=0)
    assert p.is_terminal(res.best_state)
    assert 400 <= res.stats.nfe <= 400 + 8 * 10 * 4
    assert res.stats.nfe == p.counters.nfe
    assert 0.0 <= res.best_reward <= 1.0


def test_search_with_a_thought_and_bad_input() -> None:
    stack = MODEL.write(torch.randint(0, 29, (1, 6)), MODEL.empty_stack(1))
    p = _problem(stack=stack)
    res = dts(p, Budget(simulations=3), rng=0)
    assert p.is_terminal(res.best_state)
    with pytest.raises(ValueError, match="empty prompt"):
        UnmaskProblem(MODEL, [], KeywordReward(["a"]), decode)
    with pytest.raises(ValueError, match="per_step"):
        UnmaskProblem(MODEL, [0], KeywordReward(["a"]), decode, answer_len=8, per_step=3)
    with pytest.raises(ValueError, match="max_seq_len"):
        UnmaskProblem(MODEL, [0], KeywordReward(["a"]), decode, answer_len=64)
    with pytest.raises(ValueError, match="word"):
        KeywordReward([])


def test_save_load_round_trip_and_refuses_the_other_arch(tmp_path: Path) -> None:
    save_model(MODEL, tmp_path / "m")
    back = load_model(tmp_path / "m", arch="thought")
    x = torch.randint(0, 29, (1, 9))
    with torch.no_grad():
        torch.testing.assert_close(back(x), MODEL(x))
    with pytest.raises(ThoughtLoadError, match="holds a 'thought' model"):
        load_model(tmp_path / "m", arch="baseline")
    save_model(tiny_model("baseline"), tmp_path / "b")
    (tmp_path / "b" / "config.json").write_text((tmp_path / "m" / "config.json").read_text())
    with pytest.raises(ThoughtLoadError, match="other architecture"):
        load_model(tmp_path / "b")
    with pytest.raises(ThoughtLoadError, match="not a mctd-thought"):
        load_model(tmp_path / "nothing")


def test_thought_lm_is_a_language_model_with_honest_counters() -> None:
    from mctd_thought import ThoughtLM
    from mctd_thought.testing import CharTokenizer
    from mctd_tree.protocols import LanguageModel

    lm = ThoughtLM(MODEL, CharTokenizer(), per_step=2, window=16)
    assert isinstance(lm, LanguageModel) and lm.eos_token_ids == frozenset({0})
    prompt = lm.chat_prompt([{"role": "user", "content": "a cat"}])
    assert prompt[0] == 0 and lm.decode(prompt) == "a cat"
    lp = lm.next_logprobs([prompt, prompt[:2]])
    assert lp.shape == (2, 29) and lm.counters.nfe == 32 and lm.counters.calls == 1
    (g,) = lm.generate([prompt], np.random.default_rng(0), max_new_tokens=5)
    assert 1 <= len(g.tokens) <= 5 and lm.counters.calls == 1 + 3
    prob = lm.search_problem(prompt, KeywordReward(["a"]), max_new_tokens=5)
    assert prob.counters is lm.counters and prob.answer_len == 6
    res = best_of_n(prob, Budget(simulations=2), rng=0)
    # two rollouts batched: 3 calls of 2 rows x (6 prompt + 6 answer) positions
    assert lm.counters.calls == 4 + 3 and lm.counters.nfe == 32 + 3 * 12 + 3 * 2 * 12
    assert 0.0 <= res.best_reward <= 1.0


def test_thought_lm_generate_applies_top_k_top_p_and_stop() -> None:
    from mctd_thought import ThoughtLM
    from mctd_thought.testing import CharTokenizer

    lm = ThoughtLM(MODEL, CharTokenizer(), per_step=1, window=16)
    prompt = lm.chat_prompt([{"role": "user", "content": "a cat"}])
    rng = np.random.default_rng

    def gen(**kw: object) -> list[int]:
        return lm.generate([prompt], rng(0), max_new_tokens=8, **kw)[0].tokens  # type: ignore[arg-type]

    greedy = gen(temperature=0.0)
    assert gen(temperature=2.0, top_k=1) == greedy and gen(temperature=2.0, top_p=1e-6) == greedy
    free = [lm.generate([prompt], rng(s), max_new_tokens=8, temperature=2.0)[0] for s in range(4)]
    assert any(f.tokens != greedy for f in free)  # without a cut, T = 2 draws other tokens
    (g,) = lm.generate([prompt], rng(0), max_new_tokens=8, temperature=2.0, top_k=1)
    # drawn from a one-token distribution (log q = 0); log p_theta is the model's own
    assert np.allclose(g.logq, 0.0) and np.all(g.logprobs < 0)
    # stop: cut after the token completing the first stop string; the text before has none
    free = gen(temperature=0.0)
    text = lm.decode(free)
    assert 0 not in free[:4] and len(text) >= 4  # this seeded model's greedy answer
    stop = text[2:4]
    cut = lm.generate([prompt], rng(0), max_new_tokens=8, temperature=0.0, stop=[stop])[0]
    assert cut.finish_reason == "stop" and lm.decode(cut.tokens).endswith(stop)
    assert stop not in lm.decode(cut.tokens[:-1]) and cut.tokens == free[: len(cut.tokens)]
    with pytest.raises(ValueError, match="top_k"):
        gen(top_k=-2)
    with pytest.raises(ValueError, match="top_p"):
        gen(top_p=1.5)
    with pytest.raises(ValueError, match="stop"):
        gen(stop=[""])


def test_completion_tokens_end_where_an_ar_decode_would_stop() -> None:
    """A state holds the whole answer window; its completion is cut through the first EOS (kept,
    as an AR state ends with it) or the token completing a stop string; the text agrees."""
    p = _problem(eos_id=0)
    assert p.completion_tokens((5, 6, 0, 7, 0, 8, 9, 10)) == (5, 6, 0)
    assert p.text((5, 6, 0, 7, 0, 8, 9, 10)) == "ef"
    assert p.completion_tokens((5, 6, 7, 8, 9, 10, 11, 12)) == (5, 6, 7, 8, 9, 10, 11, 12)
    stopped = _problem(eos_id=0, stop=["gh"])
    assert stopped.completion_tokens((5, 6, 7, 8, 0, 9, 10, 11)) == (5, 6, 7, 8)
    assert stopped.text((5, 6, 7, 8, 0, 9, 10, 11)) == "ef"
    no_eos = _problem()  # no EOS id: nothing to cut at
    assert no_eos.completion_tokens((5, 6, 0, 7, 0, 8, 9, 10)) == (5, 6, 0, 7, 0, 8, 9, 10)
