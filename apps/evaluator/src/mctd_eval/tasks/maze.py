"""Tasks maze-medium, maze-large, maze-giant (the "maze" family): plan a path through an OGBench
point maze with a Diffusion Forcing planner (``mctd_diffusion.maze``) and execute it open loop.

They run on trained planners, not a language model: ``--model DIR`` holds the planner folders
(``DIR/<maze>-dense``, ``DIR/<maze>-sparse``, written by ``mctd-train maze``), with the maze
methods (``mctd_eval.methods.MAZE_METHODS``). The instances ("prompts") are the maze's 5
start/goal tasks; a cell is (task, method, budget = MCTD expansions, seed). Scoring lives in
``mctd_eval.maze.MazeRunner``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from mctd_eval.tasks.base import Instance, TaskBase

# the start/goal cells of each maze's tasks: mctd_diffusion.maze.maps.TASKS (imported lazily,
# since mctd_diffusion imports torch and `mctd-eval list` should not)
N_TASKS = 5


@dataclass(frozen=True)
class MazeTask(TaskBase):
    """A point maze's 5 start/goal tasks; the subclasses pick the maze."""

    maze: ClassVar[str] = ""
    family: ClassVar[str] = "maze"
    max_instances: ClassVar[int | None] = N_TASKS
    metric_names: ClassVar[tuple[str, ...]] = (
        "success",
        "first_reach",
        "oracle_steps",
        "reach_vs_oracle",
        "expansions",
        "rejected_frac",
    )

    dense: str = ""  # dense planner folder, relative to --model unless absolute ("": <maze>-dense)
    sparse: str = ""  # sparse planner folder (S-/Fast-MCTD; "": <maze>-sparse)
    levels: int = 50  # DDIM levels of the pyramid schedule
    gain: float = 0.25  # guidance unit: mctd_diffusion.maze.pyramid.GUIDANCE_GAIN (lazy import)
    parallel: int = 25  # K, leaves per iteration of P-MCTD / Fast-MCTD
    scale: float = 1.0  # guidance scale of diffuser / df
    warp_factor: float = 1.0  # x the paper's warp (jump) thresholds of the value check

    def __post_init__(self) -> None:
        for key in ("dense", "sparse"):
            v = getattr(self, key)
            if not isinstance(v, str):
                raise ValueError(f"{self.name} needs a folder name for {key}, got {v!r}")
            if not v:
                object.__setattr__(self, key, f"{self.maze}-{key}")
        for key in ("levels", "parallel"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{self.name} needs an integer {key} >= 1, got {v!r}")
        for key, positive in (("gain", False), ("scale", False), ("warp_factor", True)):
            v = getattr(self, key)
            ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or v < 0 or (positive and v == 0):
                raise ValueError(
                    f"{self.name} needs a number {key} {'> 0' if positive else '>= 0'}, got {v!r}"
                )
            object.__setattr__(self, key, float(v))

    def instances(self, n: int) -> list[Instance]:
        """The first ``n`` (at most 5) start/goal tasks, labelled by their (row, column) cells."""
        from mctd_diffusion.maze.maps import TASKS

        return [
            Instance(i, f"({s[0]},{s[1]})->({g[0]},{g[1]})", (s, g), None)
            for i, (s, g) in enumerate(TASKS[self.maze][:n])
        ]

    def evaluate(self, text: str, public: Any, truth: Any) -> dict[str, float]:
        raise TypeError(f"{self.name} is scored by mctd_eval.maze.MazeRunner")


def _describe(maze: str) -> str:
    return (
        f"maze: plan start -> goal in the {maze} point maze with Diffusion Forcing planners "
        "(--model DIR of mctd-train maze folders), executed open loop; success, reach/oracle"
    )


@dataclass(frozen=True)
class MazeMediumTask(MazeTask):
    name: ClassVar[str] = "maze-medium"
    maze: ClassVar[str] = "medium"
    description: ClassVar[str] = _describe("medium")


@dataclass(frozen=True)
class MazeLargeTask(MazeTask):
    name: ClassVar[str] = "maze-large"
    maze: ClassVar[str] = "large"
    description: ClassVar[str] = _describe("large")


@dataclass(frozen=True)
class MazeGiantTask(MazeTask):
    name: ClassVar[str] = "maze-giant"
    maze: ClassVar[str] = "giant"
    description: ClassVar[str] = _describe("giant")
