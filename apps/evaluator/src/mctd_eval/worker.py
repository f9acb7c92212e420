"""A cell worker: one loaded model plus a `CellRunner` (a denoiser plus a `DiffusionRunner` for
diffusion tasks, planners plus a `MazeRunner` for maze tasks, VAE/UNet/classifier plus a
`DigitsRunner` for image tasks); used in-process (local executor)
and as a Ray actor (one model per actor)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mctd_eval.backends import load_lm
from mctd_eval.config import Cell, RunConfig
from mctd_eval.runner import CellRunner

if TYPE_CHECKING:
    from mctd_eval.diffusion import DiffusionRunner
    from mctd_eval.digits import DigitsRunner
    from mctd_eval.maze import MazeRunner


class CellWorker:
    def __init__(
        self,
        identity: dict[str, Any],
        threads: int | None = None,
        progress: bool = True,
        save_trees: bool = False,
        lm: Any = None,
    ) -> None:
        cfg = RunConfig.from_identity(identity)
        self.runner: CellRunner | DiffusionRunner | MazeRunner | DigitsRunner
        if cfg.family == "image":
            from mctd_eval.digits import DigitsRunner

            self.lm = None
            self.runner = DigitsRunner(cfg, threads)
        elif cfg.family == "maze":
            from mctd_eval.maze import MazeRunner

            self.lm = None
            self.runner = MazeRunner(cfg, threads)
        elif cfg.family == "diffusion":
            from mctd_eval.diffusion import DiffusionRunner

            self.lm = None
            self.runner = DiffusionRunner(cfg, threads)
        else:
            # ``lm``: a model already loaded in this process (mctd_eval.evaluate)
            self.lm = lm or load_lm(cfg.backend, cfg.model, threads=threads, progress=progress)
            self.runner = CellRunner(self.lm, cfg)
        self.runner.save_trees = save_trees

    def ready(self) -> bool:
        return True

    def run(self, cell: dict[str, Any]) -> dict[str, Any]:
        return self.runner.run(Cell(**cell))
