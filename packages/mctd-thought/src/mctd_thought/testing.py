"""Tiny random-initialised models and a character codec for tests and examples (no downloads)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from mctd_thought.config import ThoughtConfig
from mctd_thought.model import MaskedDiffusionLM

ALPHABET = "abcdefghijklmnopqrstuvwxyz ."


def encode(text: str) -> list[int]:
    """Characters of `ALPHABET` as ids 1..28 (0 is the EOS)."""
    return [ALPHABET.index(c) + 1 for c in text if c in ALPHABET]


def decode(ids: Sequence[int]) -> str:
    return "".join(ALPHABET[i - 1] for i in ids if 0 < i <= len(ALPHABET))


def tiny_config(arch: str = "thought", **kw: Any) -> ThoughtConfig:
    base: dict[str, Any] = dict(
        arch=arch,
        vocab_size=len(ALPHABET) + 1,
        d_model=16,
        n_heads=2,
        d_ff=32,
        n_layers=2,
        max_seq_len=64,
        slots=3,
        height=2,
        width=2,
        d_thought=8,
    )
    base.update(kw)
    return ThoughtConfig(**base)


def tiny_model(
    arch: str = "thought", seed: int = 0, scale: float = 0.3, **kw: Any
) -> MaskedDiffusionLM:
    """A few-thousand-parameter model with random weights (same seed, same weights); ``scale``:
    the weights' standard deviation (larger than a training init, so outputs vary)."""
    torch.manual_seed(seed)
    model = MaskedDiffusionLM(tiny_config(arch, **kw))
    for p in model.parameters():
        p.data.normal_(0, scale)
    return model.eval()


class CharTokenizer:
    """`encode` / `decode` above as a tokenizer object (EOS id 0) for `ThoughtLM` in tests."""

    eos_token_id = 0

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return encode(text)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return decode(ids)
