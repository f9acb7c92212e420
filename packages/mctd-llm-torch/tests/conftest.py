"""Tests never touch the network: offline mode is set before transformers is imported.

Torch runs one CPU thread here: the models are small, and on a shared machine more threads than
free cores make OpenMP spin (a 2-thread decode step measured 5-10x slower than a 1-thread one).
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from collections.abc import Callable

import pytest
import torch
from mctd_llm_torch import TorchLM
from mctd_llm_torch.testing import tiny_lm

torch.set_num_threads(int(os.environ.get("MCTD_TEST_THREADS", "1")))


@pytest.fixture
def make_lm() -> Callable[..., TorchLM]:
    """Build a fresh TorchLM around a tiny random Llama (same weights for the same seed)."""
    return tiny_lm
