"""Run a configuration into a run directory, and rebuild its tables and figures.

The local executor is here (cells run in this process by the configuration's family runner,
`mctd_eval.runner.CellWorker`); the Ray executor is in `mctd_eval.executors`.

Order matters for "no partial files": validate the configuration, take the run directory's lock
(`mctd_tree.files.RunLock`: one writer at a time; it removes the directory again if it made it and
nothing was written), check the directory, start the executor (model load or Ray connection), and
only then write ``config.json``. Finished cells (rows already in ``results.jsonl``) are skipped.
Temp files a killed run or report left behind are removed once the lock is held.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mctd_tree.errors import user_errors
from mctd_tree.files import RunLock, clean_temp_files
from tqdm.auto import tqdm

from mctd_eval.config import Cell, RunConfig, Runtime
from mctd_eval.figures import write_figures
from mctd_eval.rows import select
from mctd_eval.rundir import ForeignRunError, RunDir, write_atomic
from mctd_eval.runner import CellWorker
from mctd_eval.summary import Group, aggregate, to_csv, to_markdown
from mctd_eval.trees import FILES_KEY, write_files

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


class Executor(Protocol):
    """Takes the cells still to run and yields their rows as they finish."""

    def run(self, cells: Sequence[Cell]) -> Iterator[dict[str, Any]]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Cells run one after the other in this process, on one `CellWorker` (one loaded model)."""

    def __init__(
        self, identity: dict[str, Any], runtime: Runtime, progress: bool = True, lm: Any = None
    ) -> None:
        self.worker = CellWorker(identity, runtime.threads, progress, runtime.save_trees, lm)

    def run(self, cells: Sequence[Cell]) -> Iterator[dict[str, Any]]:
        for cell in cells:
            yield self.worker.runner.run(cell)

    def close(self) -> None:
        pass


def make_executor(
    identity: dict[str, Any], runtime: Runtime, progress: bool = True, lm: Any = None
) -> Executor:
    """The executor of ``runtime``: local, or Ray (`mctd_eval.executors`, imported only then);
    ``lm`` (an in-process model) runs locally only."""
    if runtime.executor == "local":
        return LocalExecutor(identity, runtime, progress, lm)
    if lm is not None:
        raise ValueError("an in-process model runs on the local executor only")
    if runtime.executor == "ray":
        from mctd_eval.executors import RayExecutor

        return RayExecutor(identity, runtime, progress)
    raise ValueError(f"unknown executor {runtime.executor!r}; valid executors: local, ray")


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
    with user_errors():  # everything until the first write is validation of the user's input
        cfg = cfg.resolved()
    identity = cfg.identity()
    with RunLock(out, "mctd-eval run") as lock:
        rd = RunDir(out)
        with user_errors():
            rd.check(identity, force)
            executor = make_executor(identity, runtime, progress, lm)
        try:
            _announce(lock, out)
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
                    write_files(rd.path, row.pop(FILES_KEY, None) or {})  # before the row
                    rd.append(row)
                    bar.set_postfix_str(row["key"], refresh=False)
                    bar.update()
        finally:
            executor.close()
        result = _report(rd, title=cfg.name, figures=figures)
    for note in result.problems[len(loaded.problems) :]:
        print(f"mctd-eval: {note}", file=sys.stderr)
    result.ran, result.skipped = len(todo), len(cells) - len(todo)
    return result


def _announce(lock: RunLock, out: Path) -> None:
    if lock.took_over:
        print(
            f"mctd-eval: took over the lock of process {lock.took_over} (no longer running)",
            file=sys.stderr,
        )
    removed = clean_temp_files(out, ["figures"])
    if removed:
        print(f"mctd-eval: removed {len(removed)} temp file(s) a killed run left", file=sys.stderr)


def report(run_dir: Path, title: str | None = None, figures: bool = True) -> Outcome:
    """Rebuild ``summary.csv``, ``summary.md`` and the figures from ``results.jsonl``."""
    rd = RunDir(run_dir)
    if not rd.path.is_dir():
        raise ForeignRunError(f"{run_dir} is not a directory: not an mctd-eval run directory")
    if rd.saved_config() is None:
        raise ForeignRunError(f"{run_dir} has no config.json: not an mctd-eval run directory")
    with RunLock(run_dir, "mctd-eval report") as lock:
        _announce(lock, rd.path)
        return _report(rd, title, figures)


def _report(rd: RunDir, title: str | None, figures: bool) -> Outcome:
    saved = rd.saved_config()
    if saved is None:
        raise ForeignRunError(f"{rd.path} has no config.json: not an mctd-eval run directory")
    loaded = rd.load()
    config = saved["config"]
    rows, notes = select(loaded.rows, config)
    groups = aggregate(rows, config)
    md = to_markdown(groups, config, title if title is not None else saved.get("name", ""))
    write_atomic(rd.path / "summary.csv", to_csv(groups))
    write_atomic(rd.path / "summary.md", md)
    figs = write_figures(groups, rd.figures) if groups and figures else []
    if groups and figures:
        from mctd_eval.samples import write_sample_figures

        figs += write_sample_figures(rows, config, rd.figures)
    return Outcome(rd.path, 0, len(rows), groups, md, figs, loaded.problems + notes)


def load_groups(run_dir: Path) -> tuple[dict[str, Any], list[Group], list[str]]:
    """(saved config document, groups, problems) of a run directory, without writing anything."""
    rd = RunDir(run_dir)
    saved = rd.saved_config()
    if saved is None:
        raise ForeignRunError(f"{run_dir} has no config.json: not an mctd-eval run directory")
    loaded = rd.load()
    rows, notes = select(loaded.rows, saved["config"])
    return saved, aggregate(rows, saved["config"]), loaded.problems + notes
