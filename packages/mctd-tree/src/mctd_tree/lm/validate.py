"""Argument checks shared by the language-model backends (sampling: `tokens.check_sampling`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_max_new_tokens(max_new_tokens: object) -> None:
    if not isinstance(max_new_tokens, int | np.integer) or max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")


def row_caps(
    max_new_tokens: int | Sequence[int], rows: Sequence[Sequence[int]], max_context: int
) -> list[int]:
    """Per-row token caps: one cap for all rows or one per row, each cut to the context left."""
    if isinstance(max_new_tokens, int | np.integer):
        caps = [int(max_new_tokens)] * len(rows)
    else:
        caps = list(max_new_tokens)
        if len(caps) != len(rows):
            raise ValueError(f"got {len(caps)} max_new_tokens for {len(rows)} prefixes")
    for c in caps:
        check_max_new_tokens(c)
    return [min(int(c), max_context - len(r)) for c, r in zip(caps, rows, strict=True)]


def check_prefix(
    prefix: Sequence[int], vocab_size: int, max_context: int, generating: bool = False
) -> tuple[int, ...]:
    """``prefix`` as a tuple of ints; non-empty, in the vocabulary, within the context (leaving
    room for one new token when ``generating``)."""
    p = tuple(int(t) for t in prefix)
    if not p:
        raise ValueError("empty prompt: a prefix needs at least one token")
    limit = max_context - (1 if generating else 0)
    if len(p) > limit:
        raise ValueError(
            f"prompt of {len(p)} tokens is longer than the model's context of "
            f"{max_context} tokens" + (" (leaving room for one new token)" if generating else "")
        )
    if min(p) < 0 or max(p) >= vocab_size:
        raise ValueError(f"token ids must be in [0, {vocab_size})")
    return p
