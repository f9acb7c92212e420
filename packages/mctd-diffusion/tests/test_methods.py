import numpy as np
import pytest
from mctd_diffusion import DDIMScheduler, DenoisingProblem, ExactMixtureDenoiser
from mctd_diffusion.methods import METHODS, run_method
from mctd_diffusion.tasks.gmm2d import Gmm2dTask, evaluate_cell


def _problem(task: Gmm2dTask) -> DenoisingProblem:
    s = DDIMScheduler(num_train_timesteps=100, eta=1.0)
    net = ExactMixtureDenoiser(task.mixture(), s)
    return DenoisingProblem(net, s, task.reward(), sample_shape=(2,), num_steps=10, branch_every=5)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "cfg"])  # cfg needs a class
def test_every_method_spends_about_the_budget(method: str) -> None:
    task = Gmm2dTask()
    run = run_method(method, _problem(task), 400, lam=1.0, n_out=16, seed=0, parallel=8)
    assert run.samples.shape[1:] == (2,) and 1 <= len(run.samples) <= 16
    assert len(run.rewards) == len(run.samples) and np.isfinite(run.best_reward)
    if method in ("dts", "dts_star", "fast_mctd"):  # stops at the first iteration past it
        assert 400 <= run.nfe <= 400 + 8 * 10
    else:
        assert 400 - 2 * 10 < run.nfe <= 400


def test_bad_method_and_budget() -> None:
    p = _problem(Gmm2dTask())
    with pytest.raises(ValueError, match="unknown method"):
        run_method("beam", p, 100, lam=1.0, n_out=4, seed=0)
    with pytest.raises(ValueError, match=">= 1"):
        run_method("dts", p, 0, lam=1.0, n_out=4, seed=0)
    with pytest.raises(ValueError, match="select_lam"):
        run_method("dts", p, 100, lam=1.0, n_out=4, seed=0, select_lam=-1.0)


def test_evaluate_cell_reports_metrics() -> None:
    task = Gmm2dTask(num_train_timesteps=100)
    s = task.scheduler()
    model = ExactMixtureDenoiser(task.mixture(), s)
    cell = evaluate_cell(task, model, "smc", 300, 0, num_steps=10, branch_every=5, n_out=16)
    for key in ("mmd", "swd", "mean_reward", "coverage", "best_reward", "nfe", "calls"):
        assert np.isfinite(cell[key])
    assert cell["method"] == "smc" and cell["nfe"] == 300


def _bad_reward(value: float):
    import torch

    def reward(x: torch.Tensor) -> torch.Tensor:
        r = -(x**2).sum(-1)
        return torch.where(x[:, 0] > 0, torch.full_like(r, value), r)

    return reward


@pytest.mark.parametrize("method", ["importance", "best_of_n", "smc", "guidance", "dts"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_reward_is_a_clear_error(method: str, value: float) -> None:
    from mctd_tree.errors import UserError

    task = Gmm2dTask()
    p = _problem(task)
    p.reward = _bad_reward(value)
    with pytest.raises(UserError, match=rf"the reward returned {value}.* must be a finite number"):
        run_method(method, p, 200, lam=1.0, n_out=4, seed=0, parallel=4)


def test_guidance_with_a_constant_reward_is_plain_sampling() -> None:
    import torch

    p = _problem(Gmm2dTask())
    p.reward = lambda x: torch.zeros(x.shape[0])
    run = run_method("guidance", p, 200, lam=3.0, n_out=4, seed=0)
    assert run.best_reward == 0.0 and np.isfinite(run.samples).all()


def test_evaluate_cell_keeps_the_run_for_figures() -> None:
    task = Gmm2dTask(num_train_timesteps=100)
    model = ExactMixtureDenoiser(task.mixture(), task.scheduler())
    cell = evaluate_cell(
        task, model, "dts", 200, 0, num_steps=10, branch_every=5, n_out=8, keep=True
    )
    run = cell["run"]
    assert run.samples.shape == (8, 2) and run.tree is not None and len(run.tree) > 1
    assert "run" not in evaluate_cell(task, model, "smc", 100, 0, num_steps=10, n_out=8)
