"""Tree viewer export (no browser): columns, answer node, labels, DOT parsed by Graphviz."""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pytest
from mctd_tree import Tree, dts, maxent_ts, mcts
from mctd_tree.problems import deceptive_tree, random_tree
from mctd_tree.viewer import (
    answer_node,
    dot_string,
    indexed_label,
    to_dot,
    to_html,
    token_label,
    tree_columns,
)


def need_tool(name: str) -> str:
    """The tool's path; a clear failure under CI (where .ci/run installs it), else a skip."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing: .ci/run installs it with apt-get")
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    return path


def test_columns_match_the_tree():
    res = mcts(deceptive_tree(), 150, k=3, rng=0)
    tree = res.tree
    cols = tree_columns(tree)
    n = len(tree)
    assert all(len(cols[k]) == n for k in ("parent", "label", "visits", "value", "prior"))
    assert cols["parent"] == tree.parent[:n].tolist()
    assert cols["visits"][0] == pytest.approx(tree.visits[0])
    assert cols["prior"][1] == pytest.approx(np.exp(tree.log_prior[1]), rel=1e-5)
    unvalued = np.flatnonzero(np.isnan(tree.value[:n]))
    assert all(cols["value"][i] is None for i in unvalued)  # NaN -> null, strict JSON
    json.dumps(cols, allow_nan=False)


def test_answer_node_is_the_best_terminal():
    res = dts(random_tree(3, 4, seed=1), 400, lam=2.0, rng=0)
    node = answer_node(res)
    assert res.tree.states[node] == res.best_state and res.tree.terminal[node]
    assert tree_columns(res.tree, answer=node)["answer"] == res.tree.path(node)


def test_answer_node_by_prefix_on_an_enumerated_tree():
    """MaxEnt-TS does not store rollouts: the answer path is the deepest prefix of the answer."""
    res = maxent_ts(deceptive_tree(), 40, k=3, rng=0)
    best = res.best_state
    node = answer_node(res, is_prefix=lambda s, b: tuple(b[: len(s)]) == tuple(s))
    state = res.tree.states[node]
    assert tuple(best[: len(state)]) == tuple(state)
    deeper = [int(k) for k in res.tree.children(node) if res.tree.materialized[k]]
    assert all(tuple(best[: len(res.tree.states[k])]) != res.tree.states[k] for k in deeper)


def test_labels_from_hooks():
    tree = Tree(())
    a, _ = tree.add_child(0, 2, -0.5)
    tree.add_child(a, 7, -0.1)
    words = {2: "Hello", 7: " world"}
    cols = tree_columns(tree, token_label(lambda ids: "".join(words[i] for i in ids)))
    assert cols["label"] == ["root", "Hello", " world"]
    chunks = {2: (7, 2), 7: (2,)}
    lab = token_label(lambda ids: "".join(words[i] for i in ids), chunks.__getitem__)
    assert tree_columns(tree, lab)["label"][1] == " worldHello"
    levels = (0.0, 0.1, 0.5)
    assert tree_columns(tree, indexed_label(levels, "scale {}"))["label"][1:] == [
        "scale 0.5",
        "a=7",
    ]
    with pytest.raises(TypeError, match="node 0"):
        tree_columns(tree, lambda t, n: n)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="not in the tree"):
        tree_columns(tree, answer=5)


def test_html_is_self_contained_and_script_safe():
    tree = Tree(())
    tree.add_child(0, 1, 0.0)
    evil = "</script><script>alert(1)</script><!--"
    page = to_html(tree, lambda t, n: evil, title="<b>t</b>", meta={"x": evil})
    assert page.count("</script>") == 2  # the data's and the viewer's, nothing injected
    assert "&lt;b&gt;t&lt;/b&gt;" in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing fetched
    data = page.split('type="application/json">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["label"][1] == evil


def test_dot_escapes():
    assert dot_string('a"b\\c\nd\x00') == '"a\\"b\\\\c\\nd"'


def test_dot_parses_with_graphviz(tmp_path):
    dot = need_tool("dot")
    res = mcts(deceptive_tree(), 120, k=3, rng=0)
    node = answer_node(res)
    weird = lambda t, n: 'q"uo\\te\n{}[];->' + str(n)  # noqa: E731
    text = to_dot(res.tree, weird, node, title='title "x"', value_name="soft v")
    out = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "<svg" in out.stdout
    assert text.count("->") - text.count("-&gt;") >= len(res.tree) - 1  # every edge drawn
    bold = re.findall(r"^  n\d+ -> n(\d+) \[color=", text, flags=re.M)
    assert [int(b) for b in bold] == res.tree.path(node)[1:]


def test_dot_max_nodes_keeps_a_connected_tree():
    res = mcts(random_tree(4, 4, seed=2), 300, k=4, rng=0)
    node = answer_node(res)
    text = to_dot(res.tree, answer=node, max_nodes=25)
    ids = {int(m) for m in re.findall(r"^  n(\d+) \[", text, flags=re.M)}
    assert 0 in ids and set(res.tree.path(node)) <= ids
    assert all(res.tree.parent[i] in ids for i in ids if i)
    assert len(ids) <= 25 + len(res.tree.path(node))
    with pytest.raises(ValueError, match="max_nodes"):
        to_dot(res.tree, max_nodes=0)
