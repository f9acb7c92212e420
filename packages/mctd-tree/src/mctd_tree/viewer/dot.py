"""Graphviz DOT export of a search tree, for papers: edge labels, visits, value, answer path.

Large trees make unreadable figures and slow layouts, so ``max_nodes`` keeps the most-visited
nodes (with their ancestors, so the picture stays one tree) and ``min_visits`` drops unvisited
slots; the answer path is always kept and drawn bold.
"""

from __future__ import annotations

import numpy as np

from mctd_tree.tree import Tree
from mctd_tree.viewer.export import Label, tree_columns


def dot_string(text: str) -> str:
    """A DOT double-quoted string: backslashes, quotes and newlines escaped, controls dropped."""
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + "".join(c for c in out if c >= " " or c == "\t") + '"'


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def _kept(cols: dict, max_nodes: int | None, min_visits: float) -> list[int]:
    """Node ids to draw: visited enough (root and answer path always), at most ``max_nodes``
    by visits, closed under ancestors."""
    n = len(cols["parent"])
    visits = np.array([v or 0.0 for v in cols["visits"]])
    must = set(cols["answer"]) | {0}
    ids = [i for i in range(n) if visits[i] >= min_visits or i in must]
    if max_nodes is not None and len(ids) > max_nodes:
        ids = sorted(ids, key=lambda i: (i not in must, -visits[i], i))[:max_nodes]
    keep = set(ids)
    parent = cols["parent"]
    for i in list(keep):
        while (p := parent[i]) >= 0 and p not in keep:
            keep.add(p)
            i = p
    return sorted(keep)


def to_dot(
    tree: Tree,
    label: Label | None = None,
    answer: int | None = None,
    *,
    max_nodes: int | None = None,
    min_visits: float = 0.0,
    value_name: str = "v",
    title: str = "",
) -> str:
    """The tree as a DOT digraph (top-down). Node text: edge label, N (visits), value, prior and
    the reward at scored terminals; the answer path in bold red."""
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
    cols = tree_columns(tree, label, answer)
    path = set(cols["answer"])
    lines = [
        "digraph search_tree {",
        "  graph [rankdir=TB, fontname=Helvetica"
        + (f", label={dot_string(title)}, labelloc=t" if title else "")
        + "];",
        "  node [shape=box, style=rounded, fontname=Helvetica, fontsize=10];",
        "  edge [arrowsize=0.5];",
    ]
    for i in _kept(cols, max_nodes, min_visits):
        text = (
            f"{cols['label'][i]}\nN={_fmt(cols['visits'][i])} {value_name}={_fmt(cols['value'][i])}"
        )
        if i:
            text += f" p={_fmt(cols['prior'][i])}"
        if cols["reward"][i] is not None:
            text += f"\nr={_fmt(cols['reward'][i])}"
        attrs = [f"label={dot_string(text)}"]
        if i in path:
            attrs.append('color="#c0392b", penwidth=2')
        if cols["terminal"][i]:
            attrs.append('shape=ellipse, style=""')
        if not cols["materialized"][i]:
            attrs.append('style="rounded,dashed", fontcolor="#888888"')
        lines.append(f"  n{i} [{', '.join(attrs)}];")
        p = cols["parent"][i]
        if p >= 0:
            bold = ' [color="#c0392b", penwidth=2]' if i in path and p in path else ""
            lines.append(f"  n{p} -> n{i}{bold};")
    lines.append("}")
    return "\n".join(lines) + "\n"
