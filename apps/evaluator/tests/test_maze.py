"""The maze tasks: planners of mctd_diffusion.maze as evaluator methods. Tiny dense and sparse
planners are trained in-process (2 steps, so plans mostly fail: the tests check the plumbing,
the counters and the NFE matching, not success rates)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from mctd_eval.methods import MAZE_METHODS

TINY_ARCH = dict(
    maze="medium",
    token_size=4,
    plan_steps=40,
    d_model=16,
    n_layers=1,
    n_heads=2,
    neighbour=True,
    pos_scale=4.0,
)
TINY_TRAINING = dict(
    batch_size=4,
    data_episodes=2,
    data_steps=60,
    pyramid_frac=0.5,
    steps=2,
    checkpoint_every=2,
)
LEVELS = 10
METHODS = "df,mctd,best_of_n,s_mctd"
BASE = [
    "--tasks",
    "maze-medium",
    "--budgets",
    "4",
    "--prompts",
    "1",
    "--seeds",
    "0",
    "--no-progress",
]
TINY = [*BASE, "--set", f"maze-medium.levels={LEVELS}"]


@pytest.fixture(scope="module")
def planners(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DIR with medium-dense and medium-sparse (every 5: 8 states, 2 tokens) tiny planners."""
    from mctd_diffusion.maze import PlannerArch, PlannerTraining
    from mctd_trainer.maze import train_maze

    root = tmp_path_factory.mktemp("maze")
    training = PlannerTraining(**TINY_TRAINING)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MCTD_CACHE", str(root / "cache"))
        train_maze(PlannerArch(**TINY_ARCH), training, root / "models" / "medium-dense")
        sparse = PlannerArch(**TINY_ARCH, every=5)
        train_maze(sparse, training, root / "models" / "medium-sparse")
    return root / "models"


def _invoke(*args: Any) -> Any:
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def maze_run(planners: Path) -> Path:
    out = planners.parent / "run"
    res = _invoke("run", "--out", out, "--model", planners, "--methods", METHODS, *TINY)
    assert res.exit_code == 0, res.output
    return out


def _rows(out: Path) -> dict[str, dict[str, Any]]:
    lines = (out / "results.jsonl").read_text().splitlines()
    return {r["method"]: r for r in map(json.loads, lines)}


def _sample_nfe(planners: Path) -> float:
    from mctd_diffusion.maze import PlanDenoiser
    from mctd_diffusion.maze.evaluate import sample_nfe
    from mctd_trainer.maze import load_planner

    model, cfg, _ = load_planner(planners / "medium-dense")
    return sample_nfe(PlanDenoiser(model, cfg, levels=LEVELS))


def test_rows_carry_the_maze_columns(maze_run: Path) -> None:
    rows = _rows(maze_run)
    assert sorted(rows) == sorted(METHODS.split(","))
    for m, r in rows.items():
        assert r["task"] == "maze-medium" and r["prompt"] == 0 and r["seed"] == 0
        assert r["label"] == "(1,1)->(6,6)"
        assert r["budget"] == (None if m == "df" else 4)
        assert r["planner"] == ("medium-sparse@2" if m == "s_mctd" else "medium-dense@2")
        assert isinstance(r["success"], bool)
        assert r["oracle_steps"] > 0 and r["wall_s"] > 0 and r["eval_wall_s"] >= 0
        assert r["nfe"] > 0 and r["calls"] >= 1 and 0 <= r["rejected_frac"] <= 1
        if r["success"]:
            assert r["reach_vs_oracle"] == pytest.approx(r["first_reach"] / r["oracle_steps"])
        else:
            assert r["first_reach"] is None and r["reach_vs_oracle"] is None
    for m in ("mctd", "s_mctd"):
        assert 1 <= rows[m]["expansions"] <= 4 and rows[m]["calls"] >= rows[m]["expansions"]
    assert rows["df"]["calls"] == LEVELS + 10 - 1  # one call per pyramid row (10 tokens)
    from mctd_diffusion.maze.pyramid import GUIDANCE_GAIN

    saved = json.loads((maze_run / "config.json").read_text())["config"]
    params = saved["task_params"]["maze-medium"]
    assert params["dense"] == "medium-dense" and params["sparse"] == "medium-sparse"
    assert params["levels"] == LEVELS and params["parallel"] == 25
    assert params["gain"] == GUIDANCE_GAIN == 0.25  # the task's default follows the library's


def test_best_of_n_is_matched_to_mctd_nfe(maze_run: Path, planners: Path, tmp_path: Path) -> None:
    rows = _rows(maze_run)
    mctd, bon = rows["mctd"], rows["best_of_n"]
    one = _sample_nfe(planners)
    assert bon["matched_nfe"] == mctd["nfe"]
    assert bon["n_samples"] == max(1, round(mctd["nfe"] / one))
    assert abs(bon["nfe"] - mctd["nfe"]) <= one
    # without an mctd row in this process, the (deterministic) MCTD plan is run to measure it
    out = tmp_path / "alone"
    res = _invoke("run", "--out", out, "--model", planners, "--methods", "best_of_n", *TINY)
    assert res.exit_code == 0, res.output
    alone = _rows(out)["best_of_n"]
    assert (alone["matched_nfe"], alone["n_samples"]) == (mctd["nfe"], bon["n_samples"])
    # an explicit N
    out = tmp_path / "fixed"
    args = ["--methods", "best_of_n", "--set", "best_of_n.n=3", "--no-figures"]
    res = _invoke("run", "--out", out, "--model", planners, *TINY, *args)
    assert res.exit_code == 0, res.output
    fixed = _rows(out)["best_of_n"]
    assert fixed["n_samples"] == 3 and fixed["matched_nfe"] is None


def test_resume_skips_finished_cells(maze_run: Path, planners: Path) -> None:
    before = (maze_run / "results.jsonl").read_bytes()
    args = ["--model", planners, "--methods", METHODS, "--no-figures"]
    res = _invoke("run", "--out", maze_run, *args, *TINY)
    assert res.exit_code == 0, res.output
    assert "ran 0 cell(s), skipped 4 finished" in res.output
    assert (maze_run / "results.jsonl").read_bytes() == before


def test_summary_table_and_figures(maze_run: Path) -> None:
    md, csv_text = (maze_run / "summary.md").read_text(), (maze_run / "summary.csv").read_text()
    head = "| method | budget | n | success | plan s | NFE | calls | expansions | rejected "
    assert head + "| reach/oracle |" in md
    assert "| df | natural | 1 |" in md and "| best_of_n | 4 | 1 |" in md
    table = {r["method"]: r for r in csv.DictReader(csv_text.splitlines())}
    assert set(table) == set(METHODS.split(","))
    rows = _rows(maze_run)
    for m, r in table.items():
        assert float(r["success_mean"]) == float(rows[m]["success"])
        assert float(r["nfe_mean"]) == pytest.approx(rows[m]["nfe"])
        assert 0 <= float(r["success_lo"]) <= float(r["success_hi"]) <= 1  # Wilson interval
    for name in ("success_vs_nfe.png", "success_vs_time.png"):
        png = (maze_run / "figures" / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in png[-12:]
    # report rebuilds the same tables
    (maze_run / "summary.md").unlink()
    res = _invoke("report", maze_run)
    assert res.exit_code == 0, res.output
    assert (maze_run / "summary.md").read_text() == md


def test_only_the_needed_planners_load(planners: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["--methods", "df", "--set", "maze-medium.sparse=absent", "--no-figures"]
    res = _invoke("run", "--out", out, "--model", planners, *TINY, *args)
    assert res.exit_code == 0, res.output
    assert list(_rows(out)) == ["df"]


def _bad_planner_dir(planners: Path, tmp_path: Path) -> Path:
    bad = tmp_path / "bad"
    shutil.copytree(planners / "medium-dense", bad / "medium-dense")
    for ckpt in (bad / "medium-dense" / "checkpoints").iterdir():
        ckpt.write_bytes(b"\x10\0\0\0\0\0\0\0{not json}")
    return bad


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "missing",
            "no dense planner for maze medium: {empty}/medium-dense does not "
            "exist; train it with `mctd-train maze --maze medium --out {empty}/medium-dense`",
        ),
        (
            "missing-sparse",
            "no sparse planner for maze medium: {planners}/absent does not "
            "exist; train it with `mctd-train maze --maze medium --sparse --out "
            "{planners}/absent`",
        ),
        ("unreadable", "{bad}/medium-dense is not a readable maze planner"),
        ("other-maze", "is a planner of maze 'medium', not 'large'; train it with `mctd-train"),
        ("kind", "is a sparse planner (every=5), not dense"),
        ("default-model", "maze tasks need --model DIR"),
        (
            "mcts",
            "method 'mcts' does not apply to task(s) maze-medium; valid methods for maze-medium: "
            "diffuser, df, mctd, best_of_n, p_mctd, s_mctd, fast_mctd",
        ),
        ("mixed", "the tasks mix families (maze: maze-medium; diffusion: gmm2d)"),
        ("levels", "maze-medium needs an integer levels >= 1, got 0"),
        ("warp", "maze-medium needs a number warp_factor > 0, got 0"),
        ("param", "unknown parameter(s) level for task 'maze-medium'; valid: seed, dense"),
        ("bon-n", "best_of_n.n must be an integer >= 1"),
        ("mctd-param", "unknown parameter(s) k for method 'mctd'; valid: (none)"),
    ],
)
def test_wrong_input_is_a_clear_error_and_writes_nothing(
    planners: Path, tmp_path: Path, case: str, message: str
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    model: Path | str = planners
    extra: list[str] = ["--methods", "df"]
    if case == "missing":
        model = empty
    elif case == "missing-sparse":
        extra = ["--methods", "s_mctd", "--set", "maze-medium.sparse=absent"]
    elif case == "unreadable":
        model = _bad_planner_dir(planners, tmp_path)
    elif case == "other-maze":
        extra = ["--tasks", "maze-large", "--set", "maze-large.dense=medium-dense"]
    elif case == "kind":
        extra += ["--set", "maze-medium.dense=medium-sparse"]
    elif case == "default-model":
        model = "default"
    else:
        extra = {
            "mcts": ["--methods", "mctd,mcts"],
            "mixed": ["--tasks", "maze-medium,gmm2d"],
            "levels": ["--set", "maze-medium.levels=0"],
            "warp": ["--set", "maze-medium.warp_factor=0"],
            "param": ["--set", "maze-medium.level=3"],
            "bon-n": ["--methods", "best_of_n", "--set", "best_of_n.n=0"],
            "mctd-param": ["--methods", "mctd", "--set", "mctd.k=3"],
        }[case]
    out = tmp_path / "run"
    # later options win: --tasks / --methods given here override BASE's
    res = _invoke("run", "--out", out, "--model", model, *BASE, *extra)
    assert res.exit_code == 2, res.output
    expected = message.format(empty=empty, planners=planners, bad=tmp_path / "bad")
    assert expected in " ".join(res.output.split())
    assert not out.exists()


def test_list_shows_the_maze_tasks_and_methods() -> None:
    res = _invoke("list")
    assert res.exit_code == 0
    for name in ("maze-medium", "maze-large", "maze-giant"):
        assert f"  {name} (maze)" in res.output
    assert "methods: diffuser, df, mctd, best_of_n, p_mctd, s_mctd, fast_mctd" in res.output
    assert "  fast_mctd (expansion budget)" in res.output and "  df (natural cost)" in res.output
    info = json.loads(_invoke("list", "--json").output)
    assert info["tasks"]["maze-giant"]["params"]["dense"] == "giant-dense"
    assert info["maze_methods"]["best_of_n"]["params"] == {"n": None}
    assert info["presets"]["maze"]["methods"] == list(MAZE_METHODS)


def test_methods_preset_and_instances() -> None:
    from mctd_diffusion.maze import TASKS
    from mctd_diffusion.maze import planners as PL
    from mctd_diffusion.maze.evaluate import default_methods
    from mctd_eval.config import PRESETS, RunConfig
    from mctd_eval.tasks import MazeTask, get_task

    assert list(default_methods()) == list(MAZE_METHODS)
    task = get_task("maze-large", {"parallel": 7, "scale": 2})
    assert isinstance(task, MazeTask) and task.maze == "large" and task.scale == 2.0
    sparse = {m: MAZE_METHODS[m].run(9, task)[1] for m in MAZE_METHODS}
    assert [m for m, s in sparse.items() if s] == ["s_mctd", "fast_mctd"]
    fast, _ = MAZE_METHODS["fast_mctd"].run(9, task)
    assert fast.func is PL.plan_mctd
    assert fast.keywords == {"budget": 9, "parallel": 7, "warp_factor": 1.0}
    df, _ = MAZE_METHODS["df"].run(None, task)
    assert df.func is PL.plan_df and df.keywords["scale"] == 2.0
    assert PRESETS["maze"] == {
        "tasks": ["maze-medium"],
        "methods": list(MAZE_METHODS),
        "budgets": [50],
        "prompts": 5,
        "seeds": [0, 1],
    }
    labels = [i.label for i in get_task("maze-giant").instances(9)]
    assert labels[0] == "(1,1)->(10,14)" and len(labels) == len(TASKS["giant"]) == 5
    cfg = RunConfig(["maze-medium"], ["df", "mctd"], [3], prompts=9, seeds=[0, 1]).resolved()
    cells = cfg.cells()
    assert {c.prompt for c in cells} == set(range(5))  # capped at the maze's 5 tasks
    assert len(cells) == 5 * 2 * 2 and {c.budget for c in cells if c.method == "df"} == {None}


def test_save_trees_draws_plans_and_mctd_trees(planners: Path, tmp_path: Path) -> None:
    """--save-trees: a plan figure per cell (valid PNG), MCTD's tree viewer and partial-plan GIF;
    the re-plan behind the figure spends the row's NFE (the planners are deterministic)."""
    out = tmp_path / "trees"
    args = ["--model", planners, "--methods", "df,mctd", "--save-trees", "--no-figures"]
    res = _invoke("run", "--out", out, *args, *TINY)
    assert res.exit_code == 0, res.output
    plans = out / "figures" / "plans"
    for m in ("df", "mctd"):
        budget = "natural" if m == "df" else "4"
        png = (plans / f"maze-medium_p0_{m}_{budget}_s0.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and b"IEND" in png[-12:]
    from PIL import Image

    title = Image.open(plans / "maze-medium_p0_mctd_4_s0.png")
    assert title.size[0] > 200
    gif = Image.open(plans / "maze-medium_p0_mctd_4_s0.gif")
    assert gif.format == "GIF" and gif.n_frames >= 2
    html = (out / "trees" / "maze-medium_p0_mctd_4_s0.html").read_text()
    assert (
        "scale 0.5" in html and not (out / "trees" / "maze-medium_p0_df_natural_s0.html").exists()
    )
    res = _invoke("view", out, "--cell", "maze-medium|p0|mctd|4|s0")
    assert res.exit_code == 0 and res.output.strip().endswith("maze-medium_p0_mctd_4_s0.html")
