"""The HTML tree viewer in a real headless Chromium (Debian's ``chromium``, driven by Playwright
with no browser download): it loads from the file with no network, shows the tree's node count,
expands a node into its children, searches, and renders a 10^4-node tree."""

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from mctd_tree import Tree, mcts
from mctd_tree.problems import deceptive_tree
from mctd_tree.viewer import answer_node, write_html

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str:
    path = os.environ.get("MCTD_CHROMIUM") or shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = chromium_path()
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=exe, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path: Path, requests: list[str] | None = None):
    page = browser.new_page(viewport={"width": 1200, "height": 800})
    if requests is not None:
        page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    return page


def big_tree(n: int, seed: int = 0) -> Tree:
    """A random tree of ``n`` nodes with search-like statistics (no model needed)."""
    rng = np.random.default_rng(seed)
    tree = Tree(())
    for i in range(1, n):
        parent = int(rng.integers(0, i)) if i > 10 else 0
        node, _ = tree.add_child(parent, i, float(-rng.exponential()))
        tree.set_state(node, (parent, i), bool(rng.random() < 0.3))
    tree.visits[:n] = rng.integers(1, 50, n)
    tree.value[:n] = rng.normal(size=n)
    return tree


def test_viewer_offline_counts_expand_search_screenshot(browser, tmp_path):
    res = mcts(deceptive_tree(), 150, k=3, rng=0)
    tree, node = res.tree, answer_node(res)
    path = write_html(
        tmp_path / "tree.html", tree, answer=node, title="mcts", meta={"nfe": res.stats.nfe}
    )
    requests: list[str] = []
    page = open_page(browser, path, requests)
    assert all(u.startswith("file://") for u in requests), requests  # no network at all
    assert int(page.inner_text("#node-count")) == len(tree)
    assert int(page.inner_text("#materialized-count")) == tree.num_materialized()
    # the answer path is expanded and highlighted
    answer_rows = page.locator(".row.answer")
    assert answer_rows.count() == len(tree.path(node))
    # expand a collapsed node off the answer path: exactly its children appear
    on_path = set(tree.path(node))
    target = next(
        int(c) for c in tree.children(0) if int(c) not in on_path and tree.num_children(int(c))
    )
    kids = page.locator(f".row[data-parent='{target}']")
    assert kids.count() == 0
    shown = int(page.inner_text("#visible-count"))
    page.click(f".tog[data-id='{target}']")
    assert kids.count() == tree.num_children(target)
    assert sorted(int(k) for k in kids.evaluate_all("rs => rs.map(r => r.dataset.id)")) == sorted(
        tree.children(target).tolist()
    )
    assert int(page.inner_text("#visible-count")) == shown + tree.num_children(target)
    page.click(f".tog[data-id='{target}']")  # and collapse it again
    assert kids.count() == 0
    # search by node id, then select: the details panel shows the node
    page.fill("#search", f"#{target}")
    page.press("#search", "Enter")
    assert page.inner_text("#match-count") == "1"
    assert page.locator(f".row.match[data-id='{target}']").count() == 1
    assert f"{target}" in page.inner_text("#detail-body")
    page.click("#expand-all")
    assert int(page.inner_text("#visible-count")) == len(tree)
    shot = page.screenshot(path=str(tmp_path / "tree.png"), full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 5_000
    page.close()


def test_ten_thousand_nodes_render_lazily(browser, tmp_path):
    n = 10_000
    tree = big_tree(n)
    path = write_html(tmp_path / "big.html", tree, answer=n - 1)
    t0 = time.perf_counter()
    page = open_page(browser, path)
    load_s = time.perf_counter() - t0
    assert int(page.inner_text("#node-count")) == n
    t1 = time.perf_counter()
    page.click("#expand-all")
    assert int(page.inner_text("#visible-count")) == n
    expand_s = time.perf_counter() - t1
    assert page.locator(".row").count() < 200  # lazy: only the rows in view are in the DOM
    page.fill("#search", "a=9999")
    page.press("#search", "Enter")
    assert int(page.inner_text("#match-count")) >= 1
    print(
        f"10^4 nodes: file {path.stat().st_size / 1e6:.2f} MB, load+render {load_s:.2f} s "
        f"(in-page {page.inner_text('#render-ms')} ms), expand all {expand_s:.2f} s"
    )
    page.close()
