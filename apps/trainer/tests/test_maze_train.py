"""Maze planners through the trainer's loop: exact resume (with EMA), fine-tuning, EMA weights,
and loading a legacy ``planner.safetensors`` folder (moved here from mctd-diffusion's tests when
the loop left that package)."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_diffusion.maze import PlannerArch, PlannerTraining, build_model
from mctd_trainer import checkpoints
from mctd_trainer.ema import EMA
from mctd_trainer.maze import load_planner, train_maze

ARCH = PlannerArch(token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2, neighbour=True)
DATA = dict(batch_size=4, data_episodes=2, data_steps=60, pyramid_frac=0.5)


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_training_resumes_exactly(tmp_path: Path, ema: float) -> None:
    short = PlannerTraining(**DATA, steps=4, checkpoint_every=2, ema=ema)
    full = PlannerTraining(**DATA, steps=8, checkpoint_every=2, ema=ema)
    train_maze(ARCH, short, tmp_path / "a")
    resumed = train_maze(ARCH, full, tmp_path / "a", resume=True)
    straight = train_maze(ARCH, full, tmp_path / "b")
    assert resumed.step == straight.step == 8
    assert np.isclose(resumed.loss, straight.loss)
    model, arch, step = load_planner(tmp_path / "a")
    assert step == 8 and arch == ARCH
    for k, v in straight.model.state_dict().items():
        torch.testing.assert_close(model.state_dict()[k], v, msg=k)
    ck = checkpoints.load_latest(tmp_path / "a" / "checkpoints")
    assert ck is not None and any(k.startswith("ema.") for k in ck.tensors) == (ema > 0)


def test_fine_tune_starts_from_init(tmp_path: Path) -> None:
    train_maze(ARCH, PlannerTraining(**DATA, steps=4, checkpoint_every=4), tmp_path / "base")
    tuned = PlannerTraining(**DATA, steps=1, lr=1e-12, warmup=1, loss_weight="v", seed=1)
    res = train_maze(ARCH, tuned, tmp_path / "tuned", init=tmp_path / "base")
    base, _, _ = load_planner(tmp_path / "base")
    for k, v in base.state_dict().items():  # lr ~0: the weights are the init's
        torch.testing.assert_close(res.model.state_dict()[k], v, msg=k)


def test_ema_follows_its_recursion() -> None:
    net = torch.nn.Linear(2, 1)
    ema = EMA(net, decay=0.9)
    expect = net.weight.detach().clone()
    for step in range(30):
        with torch.no_grad():
            net.weight.add_(1.0)
        ema.update(net, step)
        d = min(0.9, (1 + step) / (10 + step))
        expect = d * expect + (1 - d) * net.weight.detach()
    assert torch.allclose(ema.shadow["weight"], expect)
    with pytest.raises(ValueError, match="decay"):
        EMA(net, 1.0)


def test_ema_weights_are_loaded_by_default(tmp_path: Path) -> None:
    arch = PlannerArch(**{**ARCH.to_dict(), "relative": True})
    training = PlannerTraining(**DATA, steps=6, checkpoint_every=3, ema=0.5)
    res = train_maze(arch, training, tmp_path / "r")
    ema_w = load_planner(tmp_path / "r")[0].state_dict()
    raw_w = load_planner(tmp_path / "r", ema=False)[0].state_dict()
    assert all(torch.equal(res.model.state_dict()[k], v) for k, v in ema_w.items())
    assert any(not torch.equal(ema_w[k], raw_w[k]) for k in ema_w)


def test_a_legacy_planner_folder_still_loads(tmp_path: Path) -> None:
    """mctd-diffusion < 0.4 wrote one ``planner.safetensors`` with the full config in its
    metadata (architecture and training fields mixed); it loads, its EMA weights by default."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = build_model(ARCH)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors |= {f"ema.{k}": v + 1 for k, v in model.state_dict().items()}
    config = {**ARCH.to_dict(), "steps": 7, "lr": 1e-3, "ema": 0.9, "loss_weight": "v"}
    folder = tmp_path / "medium-dense"
    folder.mkdir()
    meta = {"config": json.dumps(config), "step": "7", "losses": "[]"}
    save_file(tensors, str(folder / "planner.safetensors"), metadata=meta)
    loaded, arch, step = load_planner(folder)
    assert arch == ARCH and step == 7
    for k, v in model.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[k], v + 1, msg=k)
    raw, _, _ = load_planner(folder / "planner.safetensors", ema=False)
    assert all(torch.equal(raw.state_dict()[k], v) for k, v in model.state_dict().items())


def test_no_planner_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds no maze planner"):
        load_planner(tmp_path)


def test_resuming_a_legacy_run_names_the_command_that_retrains_it(tmp_path: Path) -> None:
    from mctd_trainer.maze import resume_config
    from mctd_trainer.rundir import save_config

    run = tmp_path / "medium-sparse"
    save_config(run, {"job": "maze", **ARCH.to_dict(), "every": 5, "steps": 4000})
    with pytest.raises(ValueError, match="mctd-train maze --maze medium --sparse --out"):
        resume_config(run, None)
