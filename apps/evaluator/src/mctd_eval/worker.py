"""A cell worker: one loaded model plus a `CellRunner`; used in-process (local executor) and as a
Ray actor (one model per actor)."""

from __future__ import annotations

from typing import Any

from mctd_eval.backends import load_lm
from mctd_eval.config import Cell, RunConfig
from mctd_eval.runner import CellRunner


class CellWorker:
    def __init__(
        self, identity: dict[str, Any], threads: int | None = None, progress: bool = True
    ) -> None:
        cfg = RunConfig.from_identity(identity)
        self.lm = load_lm(cfg.backend, cfg.model, threads=threads, progress=progress)
        self.runner = CellRunner(self.lm, cfg)

    def ready(self) -> bool:
        return True

    def run(self, cell: dict[str, Any]) -> dict[str, Any]:
        return self.runner.run(Cell(**cell))
