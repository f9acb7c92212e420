"""Run a configuration into a run directory, and rebuild its tables and figures.

Order matters for "no partial files": validate the configuration, check the run directory
(read-only), start the executor (model load or Ray connection), and only then create the
directory and write ``config.json``. Finished cells (rows already in ``results.jsonl``) are skipped.
"""

from __future__ import annotations

import importlib.metadata
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mctd_eval.config import RunConfig, Runtime
from mctd_eval.executors import make_executor
from mctd_eval.figures import write_figures
from mctd_eval.rundir import ForeignRunError, RunDir, write_atomic
from mctd_eval.summary import Group, aggregate, to_csv, to_markdown

_DISTS = (
    "mctd-evaluator",
    "mctd-tree",
    "mctd-spectral",
    "mctd-llm-torch",
    "mctd-llm-mlx",
    "mctd-diffusion",
)


@dataclass
class Outcome:
    run_dir: Path
    ran: int
    skipped: int
    groups: list[Group]
    markdown: str
    figures: list[Path]
    problems: list[str] = field(default_factory=list)


def versions() -> dict[str, str]:
    out = {}
    for d in _DISTS:
        try:
            out[d] = importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def run(
    cfg: RunConfig,
    runtime: Runtime,
    out: Path,
    *,
    force: bool = False,
    progress: bool = True,
    figures: bool = True,
    lm: Any = None,
) -> Outcome:
    """Run ``cfg`` into ``out`` (resumable); ``lm``: an already loaded model to use instead of
    loading ``cfg.model`` (local executor only; `mctd_eval.evaluate`)."""
    cfg = cfg.resolved()
    identity = cfg.identity()
    rd = RunDir(out)
    rd.check(identity, force)
    executor = make_executor(identity, runtime, progress, lm)
    try:
        doc = {"config": identity, "name": cfg.name, "runtime": asdict(runtime)}
        doc["versions"] = versions()
        rd.start(doc, force)
        loaded = rd.load()
        for p in loaded.problems:
            print(f"mctd-eval: {p}", file=sys.stderr)
        done = {r["key"] for r in loaded.rows}
        cells = cfg.cells()
        todo = [c for c in cells if c.key not in done]
        bar = tqdm(
            total=len(cells),
            initial=len(cells) - len(todo),
            desc="cells",
            unit="cell",
            disable=not progress,
            file=sys.stderr,
        )
        with bar:
            for row in executor.run(todo):
                rd.append(row)
                bar.set_postfix_str(row["key"], refresh=False)
                bar.update()
    finally:
        executor.close()
    result = report(out, title=cfg.name, figures=figures)
    result.ran, result.skipped = len(todo), len(cells) - len(todo)
    result.problems = loaded.problems
    return result


def report(run_dir: Path, title: str | None = None, figures: bool = True) -> Outcome:
    """Rebuild ``summary.csv``, ``summary.md`` and the figures from ``results.jsonl``."""
    rd = RunDir(run_dir)
    saved = rd.saved_config()
    if saved is None:
        raise ForeignRunError(f"{run_dir} has no config.json: not an mctd-eval run directory")
    loaded = rd.load()
    config = saved["config"]
    groups = aggregate(loaded.rows, config)
    md = to_markdown(groups, config, title if title is not None else saved.get("name", ""))
    write_atomic(rd.path / "summary.csv", to_csv(groups))
    write_atomic(rd.path / "summary.md", md)
    figs = write_figures(groups, rd.figures) if groups and figures else []
    return Outcome(rd.path, 0, len(loaded.rows), groups, md, figs, loaded.problems)


def load_groups(run_dir: Path) -> tuple[dict[str, Any], list[Group], list[str]]:
    """(saved config document, groups, problems) of a run directory, without writing anything."""
    rd = RunDir(run_dir)
    saved = rd.saved_config()
    if saved is None:
        raise ForeignRunError(f"{run_dir} has no config.json: not an mctd-eval run directory")
    loaded = rd.load()
    return saved, aggregate(loaded.rows, saved["config"]), loaded.problems
