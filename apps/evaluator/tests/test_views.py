"""Seeing a run: --save-trees writes one tree viewer per tree-search cell, `mctd-eval view` finds
them, the viewer opens in headless Chromium with the cell's node count, the DOT parses with
Graphviz, and gmm2d rows draw a valid samples figure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ARGS = ["--tasks", "arith", "--methods", "mcts,dts,best_of_n", "--budgets", "120", "--prompts", "1"]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing: .ci/run installs it with apt-get")
        pytest.skip(f"{tool} is not installed")
    return path


@pytest.fixture(scope="module")
def tree_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("views") / "run"
    args = ["run", "--backend", "toy", "--no-progress", "--save-trees", "--out", str(out), *ARGS]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return out


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    return {r["method"]: r for r in map(json.loads, (out / "results.jsonl").open())}


def _data(page: Path) -> dict[str, Any]:
    text = page.read_text().split('type="application/json">', 1)[1].split("</script>", 1)[0]
    return json.loads(text)


def test_one_tree_per_tree_cell_with_token_labels(tree_run: Path) -> None:
    rows = _rows(tree_run)
    assert all("_files" not in r for r in rows.values())  # files never reach results.jsonl
    names = sorted(p.name for p in (tree_run / "trees").iterdir())
    assert names == [f"arith_p0_{m}_120_s0.{e}" for m in ("dts", "mcts") for e in ("dot", "html")]
    for m in ("mcts", "dts"):
        data = _data(tree_run / "trees" / f"arith_p0_{m}_120_s0.html")
        assert sum(data["materialized"]) == rows[m]["nodes"]
        # the answer path spells (a prefix of) the answer: labels are the tokens' text
        assert rows[m]["answer"].startswith("".join(data["label"][i] for i in data["answer"][1:]))
        assert len(data["answer"]) > 1
    assert _data(tree_run / "trees" / "arith_p0_dts_120_s0.html")["value_name"].startswith("soft")


def test_view_prints_paths_and_explains_what_is_missing(tree_run: Path, cli: Any, tmp_path: Path):
    res = cli("view", tree_run)
    assert res.exit_code == 0 and len(res.output.split()) == 2
    res = cli("view", tree_run, "--cell", "arith|p0|mcts|120|s0")
    assert res.exit_code == 0 and res.output.strip().endswith("arith_p0_mcts_120_s0.html")
    res = cli("view", tree_run, "--cell", "best_of_n")
    assert res.exit_code == 2 and "no tree viewers matching 'best_of_n'" in res.output
    res = cli("view", tree_run, "--open")
    assert res.exit_code == 2 and "2 viewers match" in res.output
    res = cli("view", tmp_path)
    assert res.exit_code == 2 and "not an mctd-eval run directory" in res.output


def test_dot_of_a_cell_parses(tree_run: Path) -> None:
    dot = need("dot")
    src = tree_run / "trees" / "arith_p0_mcts_120_s0.dot"
    out = subprocess.run([dot, "-Tsvg", str(src)], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and "<svg" in out.stdout, out.stderr


def test_cell_viewer_in_headless_chromium(tree_run: Path, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    exe = need("chromium")
    page_path = tree_run / "trees" / "arith_p0_dts_120_s0.html"
    data = _data(page_path)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=flags)
        page = browser.new_page()
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready='1']")
        assert all(u.startswith("file://") for u in urls)
        assert int(page.inner_text("#node-count")) == len(data["parent"])
        assert page.locator(".row.answer").count() == len(data["answer"])
        shot = page.screenshot(path=str(tmp_path / "cell.png"))
        assert shot[:8] == b"\x89PNG\r\n\x1a\n"
        browser.close()


def test_gmm2d_samples_figure_and_trees(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "gmm"
    tiny = ["--set", "gmm2d.num_steps=6", "--set", "gmm2d.n_out=16", "--set", "gmm2d.parallel=4"]
    args = ["--tasks", "gmm2d", "--methods", "dts,smc", "--budgets", "60", "--seeds", "0,1"]
    res = cli("run", "--out", out, "--no-progress", "--save-trees", *args, *tiny)
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").open()]
    assert all(len(r["samples_xy"]) == r["n_samples"] for r in rows)
    png = (out / "figures" / "samples_gmm2d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in png[-12:]
    assert sorted(p.name for p in (out / "trees").glob("*.html")) == [
        "gmm2d_p0_dts_60_s0.html",
        "gmm2d_p0_dts_60_s1.html",
    ]
    csv_text = (out / "summary.csv").read_text()
    head, *lines = csv_text.splitlines()
    cols = head.split(",")
    for line in lines:  # error bars of non-negative metrics never go below 0
        vals = dict(zip(cols, line.split(","), strict=True))
        for m in ("mmd", "swd", "nfe"):
            assert vals[f"{m}_lo"] == "" or float(vals[f"{m}_lo"]) >= 0
