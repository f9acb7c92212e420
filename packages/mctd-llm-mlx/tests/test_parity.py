"""Parity with TorchLM: the same weights give the same log-probs (within a stated tolerance), the
same greedy continuations, the same seeded samples and the same counters.

Tolerances (float32 on CPU, measured): tiny random Llama max |delta log p| ~2e-6 (bound 1e-5);
SmolLM2-135M ~2e-4 over the whole vocabulary (bound 1e-3; 30 layers of different kernels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

from mctd_llm_mlx import MLXLM

pytestmark = pytest.mark.mlx

torch_backend = pytest.importorskip("mctd_llm_torch", reason="TorchLM is the reference backend")

TINY_ATOL = 1e-5
DEFAULT_ATOL = 1e-3
PREFIXES = [(5,), (9, 10, 11, 12, 13, 14, 15), (9, 10, 20), (30, 31, 2, 40), (7, 8)]
QUESTIONS = ["What is the capital of France?", "What is 2 plus 2?", "Name a primary color."]


@pytest.fixture
def pair(tiny_dir: Path) -> tuple[MLXLM, object]:
    return MLXLM(str(tiny_dir)), torch_backend.TorchLM(str(tiny_dir), device="cpu")


def test_tiny_logprobs_match(pair) -> None:
    mlx_lm, torch_lm = pair
    a, b = mlx_lm.next_logprobs(PREFIXES), torch_lm.next_logprobs(PREFIXES)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (5, 64)
    np.testing.assert_allclose(a, b, atol=TINY_ATOL, rtol=0)
    children = [(*p, 33) for p in PREFIXES]  # through the tree cache on both sides
    np.testing.assert_allclose(
        mlx_lm.next_logprobs(children), torch_lm.next_logprobs(children), atol=TINY_ATOL, rtol=0
    )
    assert mlx_lm.counters == torch_lm.counters


def test_tiny_greedy_and_seeded_sampling_match(pair) -> None:
    mlx_lm, torch_lm = pair
    kw = {"max_new_tokens": 12, "stop": ["w40"]}
    for settings in ({"temperature": 0}, {"temperature": 1.0}, {"top_k": 5, "top_p": 0.9}):
        a = mlx_lm.generate(PREFIXES, np.random.default_rng(7), **kw, **settings)
        b = torch_lm.generate(PREFIXES, np.random.default_rng(7), **kw, **settings)
        assert [g.tokens for g in a] == [g.tokens for g in b], settings
        assert [g.finish_reason for g in a] == [g.finish_reason for g in b]
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(x.logprobs, y.logprobs, atol=TINY_ATOL, rtol=0)
    assert mlx_lm.counters == torch_lm.counters


def test_tiny_text_interface_matches(pair) -> None:
    mlx_lm, torch_lm = pair
    chat = [{"role": "user", "content": "w1 w2"}]
    assert mlx_lm.chat_prompt(chat) == torch_lm.chat_prompt(chat)
    assert mlx_lm.encode("w3 w4 <|im_end|>") == torch_lm.encode("w3 w4 <|im_end|>")
    assert mlx_lm.decode([7, 8, 2, 9]) == torch_lm.decode([7, 8, 2, 9])
    assert mlx_lm.eos_token_ids == torch_lm.eos_token_ids
    assert (mlx_lm.vocab_size, mlx_lm.max_context) == (torch_lm.vocab_size, torch_lm.max_context)
    assert mlx_lm.cache_bytes_per_position == torch_lm.cache_bytes_per_position


def test_default_model_same_greedy_answers(default_lm: MLXLM) -> None:
    torch_lm = torch_backend.TorchLM.default(device="cpu", progress=False)
    prompts = [default_lm.chat_prompt([{"role": "user", "content": q}]) for q in QUESTIONS]
    assert prompts == [torch_lm.chat_prompt([{"role": "user", "content": q}]) for q in QUESTIONS]
    assert default_lm.eos_token_ids == torch_lm.eos_token_ids
    np.testing.assert_allclose(
        default_lm.next_logprobs(prompts), torch_lm.next_logprobs(prompts), atol=DEFAULT_ATOL
    )
    a = default_lm.generate(prompts, np.random.default_rng(0), max_new_tokens=10, temperature=0)
    b = torch_lm.generate(prompts, np.random.default_rng(0), max_new_tokens=10, temperature=0)
    assert [g.tokens for g in a] == [g.tokens for g in b]
    assert "Paris" in default_lm.decode(a[0].tokens)
