"""A run directory (DESIGN.md §6): ``config.json``, append-only ``results.jsonl``, summaries and
figures.

Durability: each result row is one line written with a single ``write`` on an ``O_APPEND`` file
descriptor, then ``fsync``ed, so a kill at any moment loses at most the cell in flight. A line cut
short by a kill (or otherwise corrupt) is reported and skipped when reading, never fatal, and the
next append first ends it with a newline so the following rows stay intact. Rows are
de-duplicated by cell key (the first wins). Other files are written atomically (temp + rename).

The directory is only created when the first file is written: validating a configuration, or
refusing a directory that holds another one, leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mctd_tree.errors import UserError
from mctd_tree.files import atomic_write

CONFIG = "config.json"
RESULTS = "results.jsonl"
OWNED = (CONFIG, RESULTS, "summary.csv", "summary.md", "figures", "trees")


class ForeignRunError(UserError):
    """The directory holds a run of another configuration (or something that is not a run)."""


@dataclass
class Loaded:
    """Rows read back from ``results.jsonl`` and what was wrong with the file, if anything."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder and a rename."""
    atomic_write(path, data)


class RunDir:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def results(self) -> Path:
        return self.path / RESULTS

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    # ------------------------------------------------------------------ config
    def saved_config(self) -> dict[str, Any] | None:
        p = self.path / CONFIG
        if not p.is_file():
            return None
        try:
            doc = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ForeignRunError(
                f"{p} is not valid JSON ({err}); is this a run directory?"
            ) from None
        if isinstance(doc, dict) and "job" in doc and "config" not in doc:
            raise ForeignRunError(
                f"{self.path} is an mctd-train run directory (job {doc['job']!r}), not an "
                "mctd-eval one"
            )
        if not isinstance(doc, dict) or not isinstance(doc.get("config"), dict):
            got = doc.get("config") if isinstance(doc, dict) else doc
            raise ForeignRunError(
                f"{p} is not an mctd-eval run configuration (its config is {str(got)[:40]!r}, "
                "not an object); is this a run directory?"
            )
        return doc

    def check(self, identity: dict[str, Any], force: bool = False) -> None:
        """Refuse a directory holding another configuration (read-only; ``force`` skips it)."""
        if force or not self.path.exists():
            return
        if not self.path.is_dir():
            raise ForeignRunError(f"{self.path} exists and is not a directory")
        saved = self.saved_config()
        if saved is None:
            if self.results.exists():
                raise ForeignRunError(
                    f"{self.path} holds {RESULTS} but no {CONFIG}; pass --force to start a new run"
                )
            return
        if saved["config"] != identity:
            diff = sorted(
                k
                for k in set(identity) | set(saved["config"])
                if identity.get(k) != saved["config"].get(k)
            )
            raise ForeignRunError(
                f"{self.path} holds a run with another configuration (differs in: "
                f"{', '.join(diff) or 'format'}); use another --out, or --force to discard it "
                "and start a new run there"
            )

    def start(self, config: dict[str, Any], force: bool = False) -> None:
        """Create the directory (after `check`); ``force`` first removes a previous run's files."""
        if force and self.path.is_dir():
            for name in OWNED:
                p = self.path / name
                if p.is_dir():
                    shutil.rmtree(p)
                else:
                    p.unlink(missing_ok=True)
        self.path.mkdir(parents=True, exist_ok=True)
        if self.saved_config() != config:
            write_atomic(
                self.path / CONFIG,
                json.dumps(config, indent=2, sort_keys=True, allow_nan=False) + "\n",
            )

    # ----------------------------------------------------------------- results
    def append(self, row: dict[str, Any]) -> None:
        """Append one row durably (one write, then fsync)."""
        line = (json.dumps(row, sort_keys=True, allow_nan=False) + "\n").encode()
        fd = os.open(self.results, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size and not _ends_with_newline(self.results):
                line = b"\n" + line  # end a line left cut short by a kill
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def load(self) -> Loaded:
        """All good rows (first row per key) and a note per corrupt or duplicate line."""
        out = Loaded()
        if not self.results.exists():
            return out
        seen: set[str] = set()
        with self.results.open("rb") as f:
            for n, raw in enumerate(f, 1):
                if not raw.strip():
                    continue
                try:
                    row = json.loads(raw)
                    key = row["key"]
                except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
                    out.problems.append(f"{self.results}:{n}: corrupt line skipped")
                    continue
                if key in seen:
                    out.problems.append(f"{self.results}:{n}: duplicate row for {key} skipped")
                    continue
                seen.add(key)
                out.rows.append(row)
        return out


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"
