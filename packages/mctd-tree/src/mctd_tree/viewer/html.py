"""A self-contained HTML viewer of a search tree: one file, no network (JS and CSS inlined).

The tree's columns (see :func:`~mctd_tree.viewer.export.tree_columns`) are embedded as JSON; the
page builds the outline in the browser and renders only the rows in view, so trees of 10^4 nodes
and more open in about a second. Per node: the edge label, visits, value (or soft value),
prior, multiplicity and terminal reward; the answer's path is highlighted and expanded; labels
are searchable (substring, or ``#id``); a click shows the node's statistics and the labels from
the root (for a language model: the text so far).
"""

from __future__ import annotations

import html
import json
import os
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from mctd_tree.tree import Tree
from mctd_tree.viewer.export import Label, tree_columns


def _asset(name: str) -> str:
    return (resources.files("mctd_tree.viewer") / "assets" / name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON safe inside a <script> element (no ``</`` or ``<!--`` can end or open anything)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def to_html(
    tree: Tree,
    label: Label | None = None,
    answer: int | None = None,
    *,
    title: str = "search tree",
    value_name: str = "value",
    meta: dict[str, Any] | None = None,
    path_sep: str = " / ",
) -> str:
    """The viewer page of ``tree`` as one HTML string.

    ``label(tree, node)``: the edge text (default ``a=<action>``); ``answer``: the node whose path
    is highlighted (see :func:`~mctd_tree.viewer.export.answer_node`); ``value_name``: what the
    value column holds (e.g. ``soft value`` for a soft backup); ``meta``: shown in the header
    (algorithm, NFE, reward...); ``path_sep``: joins the edge labels from the root in the details
    panel (``""`` for token text, which then reads as the text so far).
    """
    data = tree_columns(tree, label, answer)
    data["value_name"] = value_name
    data["path_sep"] = path_sep
    data["meta"] = {str(k): str(v) for k, v in (meta or {}).items()}
    page = _asset("template.html")
    parts = {
        "__CSS__": _asset("viewer.css"),
        "__JS__": _asset("viewer.js"),
        "__DATA__": _script_json(data),
        "__TITLE__": html.escape(title),
    }
    out = page
    for key in ("__CSS__", "__TITLE__"):  # the data and the script go in last, untouched
        out = out.replace(key, parts[key])
    head, _, tail = out.partition("__DATA__")
    head2, _, tail2 = tail.partition("__JS__")
    return head + parts["__DATA__"] + head2 + parts["__JS__"] + tail2


def write_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file and a rename; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_html(path: str | os.PathLike[str], tree: Tree, **kwargs: Any) -> Path:
    """:func:`to_html` written atomically to ``path``."""
    return write_atomic(path, to_html(tree, **kwargs))
