"""How fast the HTML tree viewer opens, and expands everything, as the tree grows (real DTS trees).

DTS on a depth-8 Gaussian walk (continuous draws: every rollout adds new nodes, so the tree grows
by about 9 nodes per simulation) is run until the tree holds the target node count; each tree is
exported with ``mctd_tree.viewer.write_html`` and opened in Debian's headless ``chromium``
through Playwright: load + first render (until the page says it is ready), then "expand all".
The viewer renders only the rows in view, so the times should grow far slower than the node
count. Prints each size's times and their ratio to the smallest tree's (measured in the same
run); writes benchmarks/results/tree_viewer.json.
Run: ``uv run --package mctd-tree python benchmarks/tree_viewer.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from mctd_tree import Tree, dts
from mctd_tree.problems import GaussianWalk
from mctd_tree.viewer import answer_node, write_html

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def grow(target: int):
    """A DTS result whose tree has at least ``target`` nodes (the budget grown until it does)."""
    sims = max(2, target // 12)
    while True:
        res = dts(GaussianWalk(depth=8), sims, lam=1.0, parallel=8, rng=0)
        tree: Tree = res.tree
        if len(tree) >= target:
            return res
        sims = int(sims * 1.1 * target / len(tree)) + 1


def measure(browser, path: Path, repeats: int) -> tuple[float, float]:
    """(best load+render seconds, best expand-all seconds) over ``repeats`` page loads."""
    load, expand = [], []
    for _ in range(repeats):
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        t0 = time.perf_counter()
        page.goto(path.as_uri())
        page.wait_for_selector("body[data-ready='1']")
        load.append(time.perf_counter() - t0)
        t1 = time.perf_counter()
        page.click("#expand-all")
        page.inner_text("#visible-count")
        expand.append(time.perf_counter() - t1)
        page.close()
    return min(load), min(expand)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="100,1000,10000,100000", help="target node counts")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium")
    if exe is None:
        raise SystemExit("chromium is not installed: apt-get install chromium")
    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=FLAGS)
        for target in (int(s) for s in args.sizes.split(",")):
            t0 = time.perf_counter()
            res = grow(target)
            search_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            path = write_html(Path(tmp) / f"t{target}.html", res.tree, answer=answer_node(res))
            export_s = time.perf_counter() - t1
            load_s, expand_s = measure(browser, path, args.repeats)
            rows.append(
                {
                    "nodes": len(res.tree),
                    "mb": path.stat().st_size / 1e6,
                    "search_s": search_s,
                    "export_s": export_s,
                    "load_render_s": load_s,
                    "expand_all_s": expand_s,
                }
            )
        browser.close()
    base = rows[0]
    print("| nodes | HTML MB | export s | load+render s | x smallest | expand all s | x smallest |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['nodes']} | {r['mb']:.2f} | {r['export_s']:.2f} | {r['load_render_s']:.2f} | "
            f"{r['load_render_s'] / base['load_render_s']:.1f} | {r['expand_all_s']:.2f} | "
            f"{r['expand_all_s'] / base['expand_all_s']:.1f} |"
        )
    out = Path(__file__).parent / "results" / "tree_viewer.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
