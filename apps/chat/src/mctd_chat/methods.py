"""How an answer is chosen: plain decoding (``greedy``, ``sample``) or a search from mctd-tree.

Budgeted searches stop at the first iteration boundary past B NFE (positions processed and cached
distributions read; `engine.search_budget`); the prompt's prefill is paid before and reported
apart. ``beam`` has no budget knob and runs at its natural cost. Defaults suit rewards in [0, 1]:
lam = 10 tilts p_theta noticeably, k = 4 children, 4 leaves per iteration (batched rollouts are what
makes a CPU fast).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from mctd_tree import (
    Budget,
    SearchResult,
    beam_search,
    best_of_n,
    dts,
    dts_star,
    maxent_ts,
    mcts,
)

from mctd_chat.errors import SettingsError

Runner = Callable[[Any, Budget, np.random.Generator], SearchResult[Any]]


@dataclass(frozen=True)
class Method:
    """``search`` is None for plain decoding; ``tree`` says whether the search builds a tree, and
    ``keeps_rollouts`` whether rollout states join it (DTS-style widening)."""

    name: str
    description: str
    search: Runner | None = None
    budgeted: bool = True
    tree: bool = False
    keeps_rollouts: bool = False


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("greedy", "argmax token at every step, streamed", budgeted=False),
        Method("sample", "sample at the set temperature, streamed", budgeted=False),
        Method(
            "best_of_n",
            "sample completions 4 at a time until the NFE budget; keep the best",
            lambda p, b, rng: best_of_n(p, b, batch_size=4, rng=rng),
        ),
        Method(
            "beam",
            "beam search on log p_theta, width 4, then the best by reward; natural cost",
            lambda p, b, rng: beam_search(p, 4),
            budgeted=False,
        ),
        Method(
            "mcts",
            "MCTS (UCT) over the top-4 tokens, mean backup, 4 leaves per iteration",
            lambda p, b, rng: mcts(p, b, k=4, parallel=4, rng=rng),
            tree=True,
        ),
        Method(
            "dts",
            "Diffusion Tree Sampling: sampled children, widening, soft backup (lam 10)",
            lambda p, b, rng: dts(p, b, lam=10.0, alpha=0.7, parallel=4, rng=rng),
            tree=True,
            keeps_rollouts=True,
        ),
        Method(
            "dts_star",
            "DTS*: the DTS tree searched with UCT, max backup",
            lambda p, b, rng: dts_star(
                p, b, lam=10.0, backup="max", alpha=0.7, parallel=4, rng=rng
            ),
            tree=True,
            keeps_rollouts=True,
        ),
        Method(
            "maxent_ts",
            "MaxEnt-TS: top-4 tokens, p_theta-weighted soft values (lam 10)",
            lambda p, b, rng: maxent_ts(p, b, k=4, lam=10.0, parallel=4, rng=rng),
            tree=True,
        ),
    )
}


def get_method(name: str) -> Method:
    if name not in METHODS:
        raise SettingsError(f"unknown method {name!r}; valid methods: {', '.join(METHODS)}")
    return METHODS[name]
