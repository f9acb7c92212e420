"""Integration: the embedded SmolLM2-135M-Instruct, converted once to MLX in the per-user cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mlx.core", reason="needs MLX: mlx on macOS, mlx[cpu] on Linux")

from mctd_llm_mlx import MLXLM
from mctd_llm_mlx.loading import default_model_dir

pytestmark = pytest.mark.mlx


def test_converted_folder_is_complete(default_lm: MLXLM) -> None:
    folder = default_model_dir(progress=False)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["rope_theta"] == 100000.0  # top level, from the GGUF's llama.rope.freq_base
    assert cfg["tie_word_embeddings"] is True and cfg["num_key_value_heads"] == 3
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    assert default_lm.eos_token_ids == frozenset({0, 2})  # <|endoftext|>, <|im_end|>


def test_france_question_answers_paris(default_lm: MLXLM) -> None:
    prompt = default_lm.chat_prompt([{"role": "user", "content": "What is the capital of France?"}])
    (g,) = default_lm.generate([prompt], np.random.default_rng(0), max_new_tokens=10, temperature=0)
    assert "Paris" in default_lm.decode(g.tokens)
    assert g.finish_reason in ("eos", "length")
