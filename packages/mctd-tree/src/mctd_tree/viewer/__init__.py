"""See a search: a self-contained HTML tree viewer and a Graphviz DOT export (numpy only).

>>> from mctd_tree.viewer import answer_node, write_html, to_dot
>>> res = mcts(problem, 200)                                           # doctest: +SKIP
>>> write_html("tree.html", res.tree, answer=answer_node(res))         # doctest: +SKIP
>>> open("tree.dot", "w").write(to_dot(res.tree, max_nodes=60))        # doctest: +SKIP

The edge label is the caller's: ``label(tree, node) -> str`` (``token_label(decode)`` for token
text, ``indexed_label(levels, "scale {}")`` for guidance levels or noise steps).
"""

from mctd_tree.viewer.dot import dot_string, to_dot
from mctd_tree.viewer.export import (
    Label,
    answer_node,
    default_label,
    indexed_label,
    token_label,
    tree_columns,
)
from mctd_tree.viewer.html import to_html, write_atomic, write_html

__all__ = [
    "Label",
    "answer_node",
    "default_label",
    "dot_string",
    "indexed_label",
    "to_dot",
    "to_html",
    "token_label",
    "tree_columns",
    "write_atomic",
    "write_html",
]
