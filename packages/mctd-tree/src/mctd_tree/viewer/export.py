"""A built tree as plain columns (JSON-ready), with caller-supplied edge labels and the answer path.

The viewer and the DOT export both read a tree through :func:`tree_columns`: one list per
statistic (parent, depth, label, visits, value, prior, multiplicity, reward, flags), so nothing
here walks Python objects per node beyond the label hook. The label hook ``label(tree, node)``
says what an edge *is* in the caller's domain: token text (via a decode function), a chunk, a
guidance level, a noise step. :func:`token_label` and :func:`indexed_label` build the usual ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mctd_tree.result import SearchResult
from mctd_tree.tree import Tree

Label = Callable[[Tree, int], str]


def default_label(tree: Tree, node: int) -> str:
    """``root`` for the root, else ``a=<action id>``."""
    return "root" if node == 0 else f"a={int(tree.action[node])}"


def token_label(
    decode: Callable[[Sequence[int]], str],
    tokens_of: Callable[[int], Sequence[int]] | None = None,
) -> Label:
    """Edge label = the decoded text of the edge's tokens (``tokens_of(action)``, default the
    action itself as one token id: pass ``problem.chunk_tokens`` for chunked edges)."""

    def label(tree: Tree, node: int) -> str:
        if node == 0:
            return "root"
        a = int(tree.action[node])
        return decode(list(tokens_of(a)) if tokens_of is not None else [a])

    return label


def indexed_label(names: Sequence[Any], fmt: str = "{}") -> Label:
    """Edge label = ``fmt.format(names[action])``: e.g. guidance levels or noise steps by index."""

    def label(tree: Tree, node: int) -> str:
        if node == 0:
            return "root"
        a = int(tree.action[node])
        return fmt.format(names[a]) if 0 <= a < len(names) else f"a={a}"

    return label


def _same(a: Any, b: Any) -> bool:
    """Identity, or ``==`` where that gives a plain bool (arrays and tensors never raise here)."""
    if a is b:
        return True
    try:
        eq = a == b
    except Exception:
        return False
    return eq if isinstance(eq, bool) else False


def answer_node(
    result: SearchResult[Any],
    is_prefix: Callable[[Any, Any], bool] | None = None,
) -> int:
    """The tree node of the answer (``result.best_state``), for highlighting its path.

    In order: a node holding the answer's state (identity or ``==``); else, when ``is_prefix``
    is given, the deepest node reached by descending through children whose state is a prefix of
    the answer (enumerated trees do not store rollouts, so the answer may end below the tree);
    else the terminal with the highest reward; else the end of the most-visited descent.
    """
    tree = result.tree
    if tree is None:
        raise ValueError("this SearchResult has no tree (the method is not a tree search)")
    best = result.best_state
    if best is not None:
        for n in range(len(tree)):
            if tree.materialized[n] and _same(tree.states[n], best):
                return n
        if is_prefix is not None:
            node = 0
            while True:
                kids = [
                    int(k)
                    for k in tree.children(node)
                    if tree.materialized[k] and is_prefix(tree.states[k], best)
                ]
                if not kids:
                    return node
                node = max(kids, key=lambda k: int(tree.depth[k]))
    rewards = tree.reward[: len(tree)]
    if np.isfinite(rewards).any():
        return int(np.nanargmax(rewards))
    node = 0
    while len(ids := tree.children(node)):
        node = int(ids[np.argmax(tree.visits[ids])])
    return node


def _num(x: float) -> float | None:
    """Six significant digits; None for NaN or infinity (strict JSON)."""
    return float(f"{x:.6g}") if math.isfinite(x) else None


def tree_columns(tree: Tree, label: Label | None = None, answer: int | None = None) -> dict:
    """The tree as JSON-ready columns (index = node id) plus the answer path.

    ``prior`` is exp(log_prior) (p_theta of the edge, unnormalised over the expanded set);
    ``value`` is NaN (None) until backed up; ``reward`` is set at scored terminals only.
    """
    n = len(tree)
    if answer is not None and not 0 <= answer < n:
        raise ValueError(f"answer node {answer} is not in the tree (0..{n - 1})")
    lab = label or default_label
    labels = []
    for i in range(n):
        text = lab(tree, i)
        if not isinstance(text, str):
            raise TypeError(f"label hook returned {type(text).__name__} for node {i}, not str")
        labels.append(text)
    nums = {
        "visits": tree.visits[:n],
        "value": tree.value[:n],
        "prior": np.exp(tree.log_prior[:n]),
        "reward": tree.reward[:n],
    }
    return {
        "parent": tree.parent[:n].tolist(),
        "depth": tree.depth[:n].tolist(),
        "action": tree.action[:n].tolist(),
        "label": labels,
        **{k: [_num(float(x)) for x in v] for k, v in nums.items()},
        "mult": tree.multiplicity[:n].tolist(),
        "terminal": tree.terminal[:n].astype(int).tolist(),
        "materialized": tree.materialized[:n].astype(int).tolist(),
        "answer": tree.path(answer) if answer is not None else [],
    }
