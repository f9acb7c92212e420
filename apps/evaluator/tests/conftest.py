"""Shared fixtures: a tiny random Llama with a character tokenizer (digits included) and a chat
template, built in-process and offline; and helpers to run the CLI."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")  # see mctd_eval.executors._import_ray

from pathlib import Path
from typing import Any

import pytest

CHARS = ["<eos>", "<pad>", *"abcdefghijklmnopqrstuvwxyz0123456789 .,!?+-*:\n"]
CHAT = "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"


def char_tokenizer() -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tk = Tokenizer(models.WordLevel({c: i for i, c in enumerate(CHARS)}, unk_token="<pad>"))
    tk.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    tk.decoder = decoders.Fuse()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<eos>", pad_token="<pad>")
    tok.chat_template = CHAT
    return tok


def tiny_llama(seed: int = 0) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(CHARS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        eos_token_id=0,
        pad_token_id=1,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(cfg).eval()
    model.generation_config.eos_token_id = 0
    return model


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ``-m``, leave out the slow tests so that a plain ``pytest`` stays ~2 minutes."""
    if config.option.markexpr:
        return
    skip = pytest.mark.skip(reason="slow: select with -m slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_lm() -> Any:
    """A TorchLM around the tiny random Llama (CPU, one thread: more threads than free cores
    make OpenMP spin on this shared machine)."""
    import torch
    from mctd_llm_torch import TorchLM

    torch.set_num_threads(1)
    return TorchLM.from_model(tiny_llama(), char_tokenizer(), device="cpu")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random Llama saved as a local model folder (for ``--model PATH``)."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_llama().save_pretrained(path)
    char_tokenizer().save_pretrained(path)
    return path


TOY = ["--backend", "toy", "--no-progress", "--no-figures"]


def _invoke(*args: Any) -> Any:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture
def cli() -> Any:
    """``cli("run", ...)``: invoke ``mctd-eval`` in-process; returns click's Result."""
    return _invoke


@pytest.fixture
def toy_run() -> Any:
    """``toy_run(out, *args)``: ``mctd-eval run`` on the toy backend into ``out``."""
    return lambda out, *args: _invoke("run", *TOY, "--out", out, *args)
