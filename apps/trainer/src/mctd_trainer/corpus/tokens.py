"""Stories -> one token stream per split, for language-model training."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np


def split_texts(texts: Sequence[str], val_frac: float) -> tuple[list[str], list[str]]:
    """(train, validation): a story goes to validation iff a hash of its text falls under
    ``val_frac`` (stable across corpus growth and order)."""
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac}")
    train: list[str] = []
    val: list[str] = []
    for t in texts:
        h = int.from_bytes(hashlib.sha1(t.encode()).digest()[:4], "little") / 2**32
        (val if h < val_frac else train).append(t)
    if not val or not train:
        raise ValueError(f"{len(texts)} stories are too few for a validation split of {val_frac}")
    return train, val


def token_stream(texts: Sequence[str], tokenizer: Any) -> np.ndarray:
    """Every text's tokens followed by EOS, concatenated (int32)."""
    eos = int(tokenizer.eos_token_id)
    enc = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    out: list[int] = []
    for ids in enc:
        out.extend(ids)
        out.append(eos)
    return np.asarray(out, dtype=np.int32)


def windows(stream: np.ndarray, rng: np.random.Generator, batch: int, length: int) -> np.ndarray:
    """``batch`` random windows of ``length`` tokens (``(batch, length)``)."""
    if len(stream) <= length:
        raise ValueError(f"token stream of {len(stream)} is shorter than a window of {length}")
    starts = rng.integers(0, len(stream) - length, batch)
    return np.stack([stream[s : s + length] for s in starts])


def fixed_windows(stream: np.ndarray, length: int, limit: int) -> np.ndarray:
    """Up to ``limit`` consecutive non-overlapping windows (the validation set)."""
    n = min(limit, len(stream) // length)
    if n < 1:
        raise ValueError(f"validation stream of {len(stream)} tokens < one window of {length}")
    return stream[: n * length].reshape(n, length)
