"""The ``thought`` backend: keywords searched over unmasking on a masked-diffusion LM run, with
honest NFE (every forward counted) at the same budgets as the AR LM."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import mctd_eval.runner as runner_mod
import numpy as np
import pytest
from mctd_eval.config import Cell, RunConfig
from mctd_eval.dlm import ThoughtLM, load_thought_lm
from mctd_eval.metering import MeteredReward
from mctd_eval.methods import Method
from mctd_eval.runner import CellRunner
from mctd_eval.tasks.fluency import token_logprobs
from mctd_eval.tasks.keywords import KeywordsReward
from mctd_thought import ThoughtConfig, UnmaskProblem, save_model
from mctd_thought.model import MaskedDiffusionLM
from mctd_thought.testing import CharTokenizer, tiny_model
from mctd_trainer.corpus import PACKAGED
from mctd_tree import SearchResult
from mctd_tree.protocols import Counters


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ThoughtConfig(
        vocab_size=2048, d_model=16, n_heads=2, d_ff=32, n_layers=2, max_seq_len=128,
        slots=2, height=2, width=2, d_thought=8,
    )  # fmt: skip
    run = tmp_path_factory.mktemp("thought-run")
    save_model(MaskedDiffusionLM(cfg), run / "model")
    shutil.copyfile(PACKAGED / "tokenizer.json", run / "model" / "tokenizer.json")
    (run / "config.json").write_text(json.dumps({"arch": "thought", "seg_len": 32}))
    return run


def test_thought_lm_counts_every_forward(run_dir: Path) -> None:
    lm = load_thought_lm(str(run_dir))
    assert isinstance(lm, ThoughtLM) and lm.window == 32
    prompt = lm.chat_prompt([{"role": "user", "content": "Write about a cat."}])
    lp = lm.next_logprobs([prompt, prompt[:3]])
    assert lp.shape == (2, 2048) and np.allclose(np.exp(lp).sum(1), 1, atol=1e-4)
    assert lm.counters.calls == 1 and lm.counters.nfe == 2 * 32
    (g,) = lm.generate([prompt], np.random.default_rng(0), max_new_tokens=6)
    assert 1 <= len(g.tokens) <= 6 and len(g.logprobs) == len(g.tokens)
    assert lm.counters.calls == 1 + 2  # 8 answer tokens at 4 a step
    prob = lm.search_problem(prompt, lambda t: np.zeros(len(t)), max_new_tokens=6)
    assert isinstance(prob, UnmaskProblem) and prob.counters is lm.counters
    assert prob.answer_len == 8


def test_keywords_run_on_the_dlm(run_dir: Path, tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "run"
    res = cli(
        "run", "--backend", "thought", "--model", str(run_dir), "--tasks", "keywords",
        "--methods", "best_of_n,dts,mcts", "--budgets", "600", "--prompts", "1",
        "--set", "keywords.max_tokens=8", "--out", out,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert {r["method"] for r in rows} == {"best_of_n", "dts", "mcts"}
    for r in rows:
        # the budget is spent on unmasking (MCTS may exhaust this two-step tree below it);
        # keywords' fluency is metered apart
        assert (r["nfe"] >= 600 or r["exhausted"]) and r["calls"] >= 1 and r["length"] <= 8
        assert r["reward_nfe"] > 0 and r["reward_calls"] >= 1
        assert "unmasking" in r["distribution"]


def test_bad_model_is_a_clear_error(tmp_path: Path, cli: Any) -> None:
    res = cli("run", "--backend", "thought", "--tasks", "keywords", "--out", tmp_path / "r")
    assert res.exit_code == 2 and "--model RUN_DIR" in res.output
    res = cli(
        "run", "--backend", "thought", "--model", str(tmp_path / "none"), "--tasks", "keywords",
        "--out", tmp_path / "r2",
    )  # fmt: skip
    assert res.exit_code == 2 and "does not exist" in res.output


def _fixed_method(state: tuple[int, ...]) -> Method:
    """A method that returns ``state`` as its one sample and best answer (no model work)."""

    def run(problem: Any, budget: Any, params: Any, rng: Any) -> SearchResult[Any]:
        return SearchResult(state, 0.5, [(state, 0.5)])

    return Method("fixed", False, "returns a fixed state", run)


def _char_runner(**task: Any) -> tuple[CellRunner, ThoughtLM]:
    lm = ThoughtLM(tiny_model("thought", seed=0), CharTokenizer(), per_step=4, window=64)
    cfg = RunConfig(
        ["keywords"], ["best_of_n"], [64], prompts=1, task_params={"keywords": task}
    ).resolved()
    return CellRunner(lm, cfg), lm


def test_a_dlm_answer_is_scored_up_to_its_first_eos(monkeypatch: pytest.MonkeyPatch) -> None:
    """The state (5, 6, EOS, 5, 5, ...) is the answer 'ef' + EOS: length 2, perplexity of those
    three tokens, diversity of (5, 6), as the AR path scores a decode that stopped at the EOS."""
    runner, lm = _char_runner(max_tokens=8, fluency_weight=0.0)
    state = (5, 6, 0, 5, 5, 5, 5, 5)
    monkeypatch.setattr(runner_mod, "get_method", lambda name: _fixed_method(state))
    row = runner.run(Cell("keywords", 0, "best_of_n", None, 0))
    assert row["answer"] == "ef" and row["answer_tokens"] == [5, 6, 0] and row["length"] == 2
    prompt = runner.tasks["keywords"].prompt_ids(lm, runner.instance("keywords", 0).public)
    lps = token_logprobs(lm, prompt, [[5, 6, 0]])[0]
    assert row["ppl"] == pytest.approx(math.exp(-lps.mean()))
    assert row["distinct_1"] == 1.0 and row["distinct_2"] == 1.0  # (5, 6); uncut: 2 of 7


def test_scoring_a_dlm_answer_costs_a_window_per_token_metered_apart() -> None:
    """Keywords' fluency on the dLM reads each token's left-to-right conditional from its own
    window (prefix + [MASK]s to 64): 64 positions per answer token, in one batched call.
    `MeteredReward` moves exactly that work out of the model's counters into its own."""
    lm = ThoughtLM(tiny_model("thought", seed=0), CharTokenizer(), per_step=4, window=64)
    prompt = lm.chat_prompt([{"role": "user", "content": "a cat and a dog"}])
    reward = KeywordsReward(lm, prompt, ("cat", "dog"), 0.1)
    reward(["a cat", "the dog ran"])
    assert lm.counters.nfe == (5 + 11) * 64 and lm.counters.calls == 1
    metered = MeteredReward(reward, lm)
    before = lm.counters.snapshot()
    metered(["a cat", "the dog ran"])
    assert lm.counters.since(before) == Counters()  # the model's counters: untouched
    assert (metered.used.nfe, metered.used.calls, metered.flops) == ((5 + 11) * 64, 1, None)


def _rollouts(n: int, into: list[str]) -> Method:
    """A method of ``n`` batched rollouts from the root (their texts appended to ``into``)."""

    def run(problem: Any, budget: Any, params: Any, rng: Any) -> SearchResult[Any]:
        outs = problem.rollout([problem.root()] * n, rng)
        into.extend(o.info["text"] for o in outs)
        best = max(outs, key=lambda o: o.reward)
        return SearchResult(best.terminal, best.reward, [(o.terminal, o.reward) for o in outs])

    return Method("rollouts", False, "n rollouts from the root", run)


def test_a_dlm_row_reports_generation_and_scoring_nfe_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``nfe``: the 3 rollouts' unmasking only (2 steps of prompt + 8 positions each);
    ``reward_nfe``: keywords' fluency of their texts, 64 positions per token."""
    runner, lm = _char_runner(max_tokens=8, fluency_weight=0.1)
    texts: list[str] = []
    monkeypatch.setattr(runner_mod, "get_method", lambda name: _rollouts(3, texts))
    row = runner.run(Cell("keywords", 0, "best_of_n", None, 0))
    prompt = runner.tasks["keywords"].prompt_ids(lm, runner.instance("keywords", 0).public)
    assert row["nfe"] == 3 * 2 * (len(prompt) + 8) and row["calls"] == 2
    tokens = sum(len(lm.encode(t)) for t in texts)
    assert row["reward_nfe"] == 64 * tokens and row["reward_calls"] == int(tokens > 0)
    assert row["prompt_nfe"] == 64
