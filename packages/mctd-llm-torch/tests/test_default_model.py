"""Integration: the embedded SmolLM2-135M-Instruct (converted once to the per-user cache)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest
from mctd_llm_torch import TorchLM, ensure_default_model
from mctd_tree import Budget, maxent_ts
from mctd_tree.problems.tokens import TokenSearchProblem


@pytest.fixture(scope="module")
def lm() -> TorchLM:
    return TorchLM.default(progress=False)


def test_converted_folder_is_complete_and_mlx_ready() -> None:
    folder = ensure_default_model(progress=False)
    cfg = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in cfg
    assert cfg["rope_theta"] == cfg["rope_parameters"]["rope_theta"]  # mlx-lm reads the top level
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()


def test_france_question_answers_paris(lm: TorchLM) -> None:
    prompt = lm.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])
    (g,) = lm.generate([prompt], np.random.default_rng(0), max_new_tokens=16, temperature=0)
    assert "Paris" in lm.decode(g.tokens)
    assert g.finish_reason in ("eos", "length")


def test_maxent_ts_runs_end_to_end(lm: TorchLM) -> None:
    def short_answer(texts: Sequence[str]) -> np.ndarray:  # prefers answers that name Paris
        return np.array([("Paris" in t) - 0.01 * len(t) for t in texts], dtype=float)

    prompt = lm.chat_prompt([{"role": "user", "content": "Name the capital of France."}])
    prob = TokenSearchProblem(lm, prompt, short_answer, k=3, max_new_tokens=10)
    lm.reset_counters()
    res = maxent_ts(prob, Budget(simulations=6), k=3, lam=4.0, parallel=3, rng=0)
    assert res.best_state is not None and prob.is_terminal(res.best_state)
    assert len(res.samples) == 6 and np.isfinite(res.best_reward)
    assert res.best_reward == short_answer([prob.completion_text(res.best_state)])[0]
    # The prompt is processed once; every later position is a new tree or rollout token.
    assert lm.counters.nfe <= len(prompt) + 6 * 10 + res.stats.nodes
