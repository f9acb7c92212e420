import numpy as np
import torch
from mctd_diffusion.maze.evaluate import (
    default_methods,
    evaluate_planners,
    format_table,
    matched_n,
    oracle_steps,
    summarize,
)
from mctd_diffusion.maze.maps import MazeMap, cell_to_xy
from mctd_diffusion.maze.planner import PlannerArch, build_model
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.value import cut_at_reach, plan_moves, score_plans

MAZE = MazeMap.load("medium")


def _line(a, b, n):
    return np.linspace(a, b, n + 1)[1:]


def test_plan_moves_start_from_the_start():
    plans = np.array([[[3.0, 4.0], [3.0, 5.0]], [[0.0, 0.0], [0.0, -2.0]]])
    moves = plan_moves(np.zeros(2), plans)
    np.testing.assert_allclose(moves, [[5.0, 1.0], [0.0, 2.0]])


def test_value_is_early_reach_fraction():
    start, goal = cell_to_xy((1, 1)), cell_to_xy((1, 2))  # 4 units apart, free corridor
    plan = np.concatenate([_line(start, goal, 20), np.repeat(goal[None], 80, axis=0)])
    sc = score_plans(MAZE, plan[None], start, goal, every=1, warp=1.0)
    k = int(sc.reach_index[0])  # first state within 2.0: 10 of 20 steps of 0.2
    assert k == 9 and not sc.rejected[0]
    assert np.isclose(sc.value[0], (100 - 10) / 100)
    cut = cut_at_reach(plan, k, goal)
    assert len(cut) == 11 and np.allclose(cut[-1], goal)


def test_warps_and_walls_are_rejected():
    start, goal = cell_to_xy((1, 1)), cell_to_xy((1, 2))
    jump = np.concatenate([np.repeat(start[None], 5, 0), np.repeat(goal[None], 5, 0)])
    through_wall = _line(start, cell_to_xy((3, 1)), 40)  # (2, 1) free, (3, 1) wall
    sc = score_plans(MAZE, np.stack([jump, through_wall[:10]]), start, goal, 1, 1.0)
    assert sc.rejected[0] and sc.value[0] == 0
    sc = score_plans(MAZE, through_wall[None], start, goal, 1, 1.0)
    assert sc.rejected[0]
    # the sparse threshold (2.0) accepts a 1.5 step
    hop = start + np.array([[1.5, 0.0], [3.0, 0.0], [4.0, 0.0]])
    assert not score_plans(MAZE, hop[None], start, goal, 5, 2.0).rejected[0]


def test_oracle_steps_scale_with_bfs():
    s, g = MAZE.tasks[2]  # 6 cells
    assert 6 * 4 / 0.2 * 0.6 < oracle_steps(MAZE, s, g) < 6 * 4 / 0.2 * 1.2


def test_evaluate_rows_summary_and_table():
    cfg = PlannerArch(token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2)
    torch.manual_seed(0)
    den = PlanDenoiser(build_model(cfg), cfg, levels=3)
    scfg = PlannerArch(every=5, token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2)
    sparse = PlanDenoiser(build_model(scfg), scfg, levels=3)
    table = default_methods(budget=4, parallel=2)
    methods = {m: table[m] for m in ("df", "mctd", "best_of_n", "fast_mctd")}
    rows = evaluate_planners("medium", den, sparse, methods, seeds=(0, 1), tasks=[2])
    assert len(rows) == 8
    assert {r["method"] for r in rows} == set(methods)
    bon = [r for r in rows if r["method"] == "best_of_n"]
    assert all(r["expansions"] == matched_n(rows, den) for r in bon)  # N matched to MCTD's NFE
    summary = summarize(rows)
    assert len(summary) == 4 and all(0 <= s["success"] <= 100 for s in summary)
    table = format_table(summary)
    assert "Fast-MCTD" in table and table.count("\n") == 5
