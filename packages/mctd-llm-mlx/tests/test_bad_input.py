"""Bad input: the same exception type and the same message on MLXLM and TorchLM (shared cases)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

from mctd_llm_mlx import MLXLM, ModelNotFoundError
from mctd_tree.problems.tokens import TokenSearchProblem

pytestmark = pytest.mark.mlx

torch_backend = pytest.importorskip("mctd_llm_torch", reason="TorchLM is the reference backend")


def _rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _reward(texts) -> np.ndarray:
    return np.zeros(len(texts))


CASES: dict[str, Callable[[object], object]] = {
    "empty prompt": lambda lm: lm.next_logprobs([[]]),
    "empty prompt in generate": lambda lm: lm.generate([[5], []], _rng(), max_new_tokens=2),
    "too long": lambda lm: lm.next_logprobs([[5] * 65]),
    "no room to generate": lambda lm: lm.generate([[5] * 64], _rng(), max_new_tokens=2),
    "token out of range": lambda lm: lm.next_logprobs([[5, 64]]),
    "temperature < 0": lambda lm: lm.generate([[5]], _rng(), max_new_tokens=2, temperature=-1),
    "top_k < 0": lambda lm: lm.generate([[5]], _rng(), max_new_tokens=2, top_k=-1),
    "top_p = 0": lambda lm: lm.generate([[5]], _rng(), max_new_tokens=2, top_p=0),
    "max_new_tokens = 0": lambda lm: lm.generate([[5]], _rng(), max_new_tokens=0),
    "k < 1": lambda lm: TokenSearchProblem(lm, [5, 6], _reward, k=0),
    "propose k < 1": lambda lm: TokenSearchProblem(lm, [5, 6], _reward).propose([()], 0),
}


def _error(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(Exception) as err:  # the type is compared across backends
        call()
    return type(err.value).__name__, str(err.value)


@pytest.fixture(scope="module")
def both(tiny_dir: Path) -> tuple[MLXLM, object]:
    return MLXLM(str(tiny_dir)), torch_backend.TorchLM(str(tiny_dir), device="cpu")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_same_error_as_torch(both, case: str) -> None:
    mlx_lm, torch_lm = both
    mine = _error(lambda: CASES[case](mlx_lm))
    theirs = _error(lambda: CASES[case](torch_lm))
    assert mine == theirs
    assert mine[0] == "ValueError"


def test_bad_input_costs_nothing(both) -> None:
    mlx_lm, _ = both
    before = mlx_lm.counters.snapshot()
    with pytest.raises(ValueError, match="empty prompt"):
        mlx_lm.next_logprobs([[5, 6, 7], []])  # validated before any work
    assert mlx_lm.counters.since(before).nfe == 0


@pytest.mark.parametrize(
    "model", ["no-such-org/no-such-model-mctd", "/nonexistent/model.gguf", "/nonexistent/dir/"]
)
def test_unknown_model_offline_same_error_as_torch(monkeypatch, model: str) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotFoundError) as mine:
        MLXLM(model)
    with pytest.raises(torch_backend.ModelNotFoundError) as theirs:
        torch_backend.TorchLM(model, device="cpu")
    if model.startswith("no-such"):
        msg = str(mine.value)
        assert "offline" in msg and "HF_HUB_OFFLINE=1" in msg
        assert "local folder path" in msg and ".gguf" in msg
        assert msg == str(theirs.value)
    else:
        assert "not found" in str(mine.value)
