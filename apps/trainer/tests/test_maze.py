"""mctd-train maze: a few steps of a tiny planner on the medium maze, then --resume."""

from pathlib import Path

import torch
from mctd_trainer.cli import app
from mctd_trainer.maze import load_planner
from mctd_trainer.rundir import load_config
from typer.testing import CliRunner

TINY = ["--d-model", "16", "--layers", "1", "--heads", "2", "--ckpt-every", "2"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    model, _, _ = load_planner(run)
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_maze_trains_a_loadable_planner_and_resumes(tmp_path: Path) -> None:
    runner = CliRunner()
    run, ref = tmp_path / "run", tmp_path / "ref"
    common = ["maze", "--maze", "medium", "--sparse", "--seed", "3", "--batch-size", "8", *TINY]
    res = runner.invoke(app, [*common, "--steps", "4", "--out", str(run)])
    assert res.exit_code == 0, res.output
    model, cfg, step = load_planner(run)
    assert step == 4 and cfg.every == 5 and cfg.d_model == 16
    assert not model.training
    saved = load_config(run)
    assert saved["job"] == "maze" and saved["arch"]["maze"] == "medium"
    assert saved["training"]["steps"] == 4 and saved["training"]["seed"] == 3
    assert saved["training"]["batch_size"] == 8

    res = runner.invoke(app, [*common, "--steps", "4", "--out", str(run)])
    assert res.exit_code != 0 and "pass --resume" in res.output

    res = runner.invoke(app, ["maze", "--resume", "--steps", "6", "--out", str(run)])
    assert res.exit_code == 0, res.output
    assert "resuming from ckpt-000000004.safetensors (step 4)" in res.output
    assert load_planner(run)[2] == 6 and load_config(run)["training"]["steps"] == 6

    # within the warm-up the lr does not depend on the total steps: resumed == uninterrupted
    res = runner.invoke(app, [*common, "--steps", "6", "--out", str(ref)])
    assert res.exit_code == 0, res.output
    a, b = _weights(run), _weights(ref)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def _text(output: str) -> str:
    """The CLI's error text without rich's box and line wrapping."""
    return " ".join(output.replace("│", " ").split())


def test_maze_cli_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(app, ["maze", "--maze", "huge", "--steps", "2", "--out", str(tmp_path)])
    assert res.exit_code != 0, res.output
    out = _text(res.output)
    assert "unknown maze 'huge'" in out and "valid mazes: medium, large, giant" in out
    res = runner.invoke(app, ["maze", "--resume"])
    assert res.exit_code != 0 and "--resume needs --out" in _text(res.output)
    res = runner.invoke(app, ["maze", "--resume", "--out", str(tmp_path / "none")])
    assert res.exit_code == 2 and "does not exist: nothing to resume" in _text(res.output)


def test_maze_options_reach_the_config_and_init_fine_tunes(tmp_path: Path) -> None:
    runner = CliRunner()
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    common = ["maze", "--sparse", *TINY]
    res = runner.invoke(app, [*common, "--steps", "2", "--out", str(base)])
    assert res.exit_code == 0, res.output
    assert load_config(base)["training"]["loss_weight"] == "v"  # the recommended default
    opts = ["--anchor", "--ema", "0.5", "--loss-weight", "x0", "--init", str(base)]
    res = runner.invoke(app, [*common, *opts, "--steps", "0", "--out", str(tuned)])
    assert res.exit_code != 0  # --steps must be >= 1
    res = runner.invoke(app, [*common, *opts, "--steps", "1", "--out", str(tuned)])
    assert res.exit_code == 0, res.output
    _, cfg, step = load_planner(tuned)
    training = load_config(tuned)["training"]
    assert cfg.anchor and training["ema"] == 0.5 and training["loss_weight"] == "x0" and step == 1
    grown = tmp_path / "fourier"  # a planner without position features starts one with them
    res = runner.invoke(
        app, [*common, *opts, "--fourier", "2", "--steps", "1", "--out", str(grown)]
    )
    assert res.exit_code == 0, res.output
    assert load_planner(grown)[1].fourier == 2
    wide = ["--d-model", "8", "--init", str(base), "--out", str(tmp_path / "wide")]
    res = runner.invoke(app, [*common, *wide])
    assert res.exit_code != 0 and "has a different architecture" in _text(res.output)
    res = runner.invoke(app, [*common, "--relative", "--anchor", "--out", str(tmp_path / "ra")])
    assert res.exit_code != 0 and "exclude each other" in _text(res.output)
    res = runner.invoke(app, [*common, "--loss-weight", "eps", "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0 and "unknown loss weight 'eps'" in _text(res.output)


def test_maze_unet_inpainting_and_token_size_options(tmp_path: Path) -> None:
    """--net unet / --inpaint / --token-size / --fourier / --data-goals / --data-oracle / --lr
    reach the saved arch and training; the planner loads back as a U-Net whose plans start at the
    start; bad values are refused."""
    runner = CliRunner()
    run = tmp_path / "unet"
    opts = ["--net", "unet", "--d-model", "8", "--unet-levels", "2", "--inpaint", "start",
            "--fourier", "2", "--data-goals", "cells", "--data-oracle", "doorway"]  # fmt: skip
    res = runner.invoke(
        app,
        ["maze", "--sparse", *opts, "--token-size", "5", "--lr", "5e-4", "--steps", "1", "--out",
         str(run)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    model, arch, step = load_planner(run)
    assert (arch.net, arch.inpaint, arch.token_size, arch.neighbour) == ("unet", "start", 5, False)
    assert arch.fourier == 2 and model.fourier == 2
    training = load_config(run)["training"]
    assert training["lr"] == 5e-4 and training["data_goals"] == "cells" and step == 1
    assert training["data_oracle"] == "doorway"
    assert type(model.net).__name__ == "UNet1D"
    for bad, why in (
        (["--net", "mlp"], "unknown planner net 'mlp'"),
        (["--inpaint", "goal"], "unknown inpaint 'goal'"),
        (["--token-size", "3"], "do not split into tokens of 3"),
        (["--fourier", "9"], "fourier must lie in [0, 6]"),
        (["--data-goals", "rooms"], "unknown --data-goals 'rooms'"),
        (["--data-oracle", "wall"], "unknown --data-oracle 'wall'"),
    ):
        res = runner.invoke(app, ["maze", "--sparse", *bad, "--out", str(tmp_path / "bad")])
        assert res.exit_code != 0 and why in _text(res.output), res.output
