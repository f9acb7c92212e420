"""Tiny models and a character tokenizer for tests and examples (no downloads)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from mctd_mor.config import MoRConfig
from mctd_mor.model import MoRForCausalLM


class CharTokenizer:
    """Characters of ``alphabet`` as ids 1..n; id 0 is ``<|endoftext|>`` (the EOS)."""

    eos_token = "<|endoftext|>"
    eos_token_id = 0

    def __init__(self, alphabet: str = "abcdefghijklmnopqrstuvwxyz .") -> None:
        self.alphabet = alphabet
        self._ids = {c: i + 1 for i, c in enumerate(alphabet)}
        self.all_special_tokens = [self.eos_token]

    def __len__(self) -> int:
        return len(self.alphabet) + 1

    def get_vocab(self) -> dict[str, int]:
        return {self.eos_token: 0, **self._ids}

    def encode(self, text: str) -> list[int]:
        return [self._ids[c] for c in text if c in self._ids]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        return "".join(self.alphabet[i - 1] for i in ids if 0 < i <= len(self.alphabet))


def tiny_model(arch: str = "mor-ec", seed: int = 0, **kw: Any) -> MoRForCausalLM:
    """A few-thousand-parameter MoR model with random weights (same seed, same weights)."""
    base: dict[str, Any] = dict(
        arch=arch,
        vocab_size=29,
        d_model=16,
        n_heads=2,
        d_ff=32,
        n_layers=4,
        n_recursion=1 if arch == "vanilla" else 3,
        max_seq_len=64,
    )
    base.update(kw)
    torch.manual_seed(seed)
    model = MoRForCausalLM(MoRConfig(**base))
    for p in model.parameters():  # larger weights than the training init: routes vary
        p.data.normal_(0, 0.3)
    return model.eval()


STORIES = (
    "Once upon a time, there was a little cat. The cat liked to play in the sun.",
    "One day, a big dog came to the park. The dog was happy and ran fast.",
    "Lily had a red ball. She threw it high and her friend caught it.",
)


def save_tiny_run(folder: Path, arch: str = "mor-ec", seed: int = 0) -> Path:
    """A tiny random-weight model folder as the ``mor`` backend reads it: config, safetensors and
    a byte-level BPE ``tokenizer.json`` (``<|endoftext|>`` id 0) trained on a few sentences."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    from mctd_mor.io import save_model

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(STORIES), trainer)
    model = tiny_model(arch, seed, vocab_size=tok.get_vocab_size(), max_seq_len=256)
    save_model(model, folder)
    (folder / "tokenizer.json").write_text(tok.to_str())
    return folder
