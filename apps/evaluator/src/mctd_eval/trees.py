"""Search trees of a run's cells (``mctd-eval run --save-trees``), and finding them again.

A runner that saves trees puts ``{relative path: bytes}`` under the row's private key ``_files``;
``execute.run`` pops it and writes the files atomically into the run directory before the row is
appended (so Ray workers never write into the run directory themselves, and a row is only
recorded once its files exist). Per cell with a search tree: ``trees/<cell>.html`` (the
self-contained viewer of ``mctd_tree.viewer``) and ``trees/<cell>.dot`` (Graphviz; the 300 most
visited nodes). Methods without a tree (greedy, best-of-N, SMC, ...) write none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mctd_tree import Tree
from mctd_tree.viewer import Label, to_dot, to_html

from mctd_eval.rundir import write_atomic

FILES_KEY = "_files"
TREES = "trees"
DOT_NODES = 300


def cell_stem(key: str) -> str:
    """A file name for a cell key: ``gmm2d|p0|dts|500|s0`` -> ``gmm2d_p0_dts_500_s0``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")


def tree_files(
    key: str,
    tree: Tree,
    label: Label | None,
    answer: int | None,
    meta: dict[str, Any],
    value_name: str = "value",
    path_sep: str = " / ",
) -> dict[str, bytes]:
    """The viewer page and the DOT file of one cell's tree, keyed by path in the run directory."""
    stem = cell_stem(key)
    page = to_html(
        tree, label, answer, title=key, value_name=value_name, meta=meta, path_sep=path_sep
    )
    dot = to_dot(tree, label, answer, max_nodes=DOT_NODES, value_name=value_name, title=key)
    return {f"{TREES}/{stem}.html": page.encode(), f"{TREES}/{stem}.dot": dot.encode()}


def value_name(backup: str | None, lam: float | None = None) -> str:
    """The value column's name for a backup rule (``soft value (lam=10)`` for soft backups)."""
    if backup == "soft":
        return "soft value" + (f" (lam={lam:g})" if lam is not None else "")
    return f"{backup} value" if backup else "value"


def write_files(run_dir: Path, files: dict[str, bytes]) -> list[Path]:
    """Write a row's files under ``run_dir`` (atomically); paths must stay inside it."""
    root = Path(run_dir).resolve()
    out = []
    for rel, data in files.items():
        path = (root / rel).resolve()
        if root not in path.parents:
            raise ValueError(f"refusing to write {rel!r} outside the run directory")
        write_atomic(path, data)
        out.append(path)
    return out


def find_trees(run_dir: Path, cell: str | None = None) -> list[Path]:
    """The tree viewers of a run (``trees/*.html``), those whose cell matches ``cell`` (a cell
    key such as ``arith|p0|mcts|128|s0`` or any part of its file name) when given."""
    folder = Path(run_dir) / TREES
    pages = sorted(folder.glob("*.html")) if folder.is_dir() else []
    if cell is None:
        return pages
    want = cell_stem(cell)
    exact = [p for p in pages if p.stem == want]
    return exact or [p for p in pages if want in p.stem]


def lm_files(
    key: str,
    result: Any,
    problem: Any,
    decode: Callable[[list[int]], str],
    params: dict[str, Any],
    method: str,
) -> dict[str, bytes]:
    """Tree files of a language-model cell: edges labelled with their token text (chunks
    decoded whole), the answer's path found by token prefix (rollouts are not stored)."""
    from mctd_tree.viewer import answer_node, token_label

    if result.tree is None:
        return {}
    answer = answer_node(result, is_prefix=lambda s, b: tuple(b[: len(s)]) == tuple(s))
    backup = params.get("backup", "soft" if method in ("dts", "maxent_ts") else None)
    meta = {
        "method": method,
        "reward": f"{result.best_reward:.4g}",
        "nfe": result.stats.nfe,
        "simulations": result.stats.simulations,
        **{k: v for k, v in params.items()},
    }
    label = token_label(decode, problem.chunk_tokens)
    return tree_files(
        key, result.tree, label, answer, meta, value_name(backup, params.get("lam")), ""
    )
