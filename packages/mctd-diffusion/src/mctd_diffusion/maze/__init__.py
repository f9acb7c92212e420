"""Point mazes and Fast-MCTD planning (Yoon et al., 2025).

Env (numpy OGBench point mazes), BFS, the noisy-oracle "navigate" dataset (cached), a Diffusion
Forcing planner over (x, y) (dense, or sparse with stride H = 5) with its training loss (the loop
is ``mctd-train maze``), and the planners: Diffuser-like one-shot denoising, single-pass Diffusion
Forcing, best-of-N, MCTD, P-MCTD, S-MCTD and Fast-MCTD (the last four run ``mctd_tree.mcts`` on
:class:`MazePlanProblem`). ``evaluate_planners`` executes plans open loop and returns metric rows.
"""

from mctd_diffusion.maze.data import MazeDataset, generate, load_dataset
from mctd_diffusion.maze.env import execute_plan, step
from mctd_diffusion.maze.evaluate import (
    TITLES,
    default_methods,
    evaluate_planners,
    format_table,
    summarize,
)
from mctd_diffusion.maze.maps import MAZES, TASKS, MazeMap, cell_to_xy, xy_to_cell
from mctd_diffusion.maze.mctd import GUIDANCE_LEVELS, MazePlanProblem
from mctd_diffusion.maze.planner import PlannerArch, PlannerTraining, build_model
from mctd_diffusion.maze.planners import (
    PlanResult,
    plan_best_of_n,
    plan_df,
    plan_diffuser,
    plan_mctd,
)
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.train import PlannerLoss, load_legacy_planner, planner_from_tensors

__all__ = [
    "GUIDANCE_LEVELS",
    "MAZES",
    "TASKS",
    "TITLES",
    "MazeDataset",
    "MazeMap",
    "MazePlanProblem",
    "PlanDenoiser",
    "PlanResult",
    "PlannerArch",
    "PlannerLoss",
    "PlannerTraining",
    "build_model",
    "cell_to_xy",
    "default_methods",
    "evaluate_planners",
    "execute_plan",
    "format_table",
    "generate",
    "load_dataset",
    "load_legacy_planner",
    "plan_best_of_n",
    "plan_df",
    "plan_diffuser",
    "plan_mctd",
    "planner_from_tensors",
    "step",
    "summarize",
    "xy_to_cell",
]
