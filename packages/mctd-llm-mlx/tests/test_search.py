"""Every mctd search runs unchanged on MLXLM, and with the same seed builds the same tree as on
TorchLM (same weights): same samples, same best answer, same honest counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

from mctd_llm_mlx import MLXLM, load
from mctd_llm_mlx.bench import NaiveMLXLM, plain_decode_rate
from mctd_tree import Budget, beam_search, best_of_n, dts, dts_star, greedy, maxent_ts, mcts
from mctd_tree.problems.tokens import TokenSearchProblem

pytestmark = pytest.mark.mlx

torch_backend = pytest.importorskip("mctd_llm_torch", reason="TorchLM is the reference backend")


def reward(texts: Sequence[str]) -> np.ndarray:
    """Counts words with a '1' in them, minus a length cost (deterministic, text only)."""
    return np.array([sum("1" in w for w in t.split()) - 0.05 * len(t.split()) for t in texts])


SEARCHES: dict[str, Callable[[Any], Any]] = {
    "maxent_ts": lambda p: maxent_ts(p, Budget(simulations=8), k=3, lam=2.0, parallel=2, rng=0),
    "dts": lambda p: dts(p, Budget(simulations=8), lam=2.0, alpha=0.7, parallel=2, rng=0),
    "dts_star": lambda p: dts_star(p, Budget(simulations=8), lam=2.0, parallel=2, rng=0),
    "mcts": lambda p: mcts(p, Budget(simulations=8), k=3, parallel=2, rng=0),
    "best_of_n": lambda p: best_of_n(p, 6, rng=0),
    "greedy": lambda p: greedy(p),
    "beam": lambda p: beam_search(p, 3),
}


@pytest.mark.parametrize("name", list(SEARCHES))
def test_search_matches_torch(tiny_dir: Path, name: str) -> None:
    results, counters = [], []
    for lm in (MLXLM(str(tiny_dir)), torch_backend.TorchLM(str(tiny_dir), device="cpu")):
        prompt = lm.chat_prompt([{"role": "user", "content": "w1 w2 w3"}])
        problem = TokenSearchProblem(lm, prompt, reward, k=3, max_new_tokens=6)
        results.append(SEARCHES[name](problem))
        counters.append((lm.counters.nfe, lm.counters.calls))
    mine, theirs = results
    assert mine.best_state == theirs.best_state
    assert [s for s, _ in mine.samples] == [s for s, _ in theirs.samples]
    np.testing.assert_allclose(mine.best_reward, theirs.best_reward)
    assert counters[0] == counters[1]
    assert counters[0][0] > 0


def test_load_hook(tiny_dir: Path) -> None:
    lm = load(str(tiny_dir), device="cpu", max_cache_positions=100)
    assert isinstance(lm, MLXLM) and lm.cache_stats().max_positions == 100
    with pytest.raises(ValueError, match="unknown device"):
        load(str(tiny_dir), device="tpu")


def test_naive_baseline_builds_the_same_tree_at_a_higher_cost(tiny_dir: Path) -> None:
    lm = MLXLM(str(tiny_dir))
    results, nfe = [], []
    for model in (lm, NaiveMLXLM(lm)):
        prompt = model.chat_prompt([{"role": "user", "content": "w1 w2 w3"}])
        problem = TokenSearchProblem(model, prompt, reward, k=3, max_new_tokens=6)
        results.append(SEARCHES["maxent_ts"](problem))
        nfe.append(model.counters.nfe)
    assert [s for s, _ in results[0].samples] == [s for s, _ in results[1].samples]
    assert nfe[1] > 2 * nfe[0]
    rate = plain_decode_rate(lm, prompt, batch=3, steps=4, seed=0)
    assert rate["positions"] == 9 and rate["rate"] > 0
