"""Tests never touch the network: offline mode is set before transformers is imported."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Callable

import pytest
from mctd_llm_torch import TorchLM
from mctd_llm_torch.testing import tiny_lm


@pytest.fixture
def make_lm() -> Callable[..., TorchLM]:
    """Build a fresh TorchLM around a tiny random Llama (same weights for the same seed)."""
    return tiny_lm
