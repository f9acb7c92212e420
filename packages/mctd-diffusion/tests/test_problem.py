import numpy as np
import pytest
import torch
from mctd_diffusion import (
    DDIMScheduler,
    DDPMScheduler,
    DenoisingProblem,
    ExactMixtureDenoiser,
    MLPDenoiser,
    QuadraticReward,
    ancestral,
    diffusion_loss,
    grid_mixture,
    guided_step,
    smc,
)
from mctd_tree import Budget, SamplingProblem, best_of_n, dts, dts_star, sample_tree

REWARD = QuadraticReward((0.0, 0.0), (1.5, 1.0), 2.0)


def _problem(steps: int = 12, every: int = 4, **kw) -> DenoisingProblem:
    torch.manual_seed(0)
    net = MLPDenoiser(2, hidden=16, depth=1, emb_dim=8)
    sched = DDIMScheduler(num_train_timesteps=100, eta=1.0)
    return DenoisingProblem(
        net, sched, REWARD, sample_shape=(2,), num_steps=steps, branch_every=every, **kw
    )


def test_protocol_branching_and_counters() -> None:
    p = _problem(steps=10, every=4)
    assert isinstance(p, SamplingProblem)
    rng = np.random.default_rng(0)
    kids = p.sample([p.root()] * 3, rng)
    assert [k.state.step for k in kids] == [4, 4, 4]
    assert len({k.action for k in kids}) == 3 and all(np.isfinite(k.log_prior) for k in kids)
    assert p.counters.nfe == 12 and p.counters.calls == 4  # one batched call per step
    outs = p.rollout([kids[0].state, p.root()], rng)
    assert [c.state.step for c in outs[0].path] == [8, 10]  # branch points, then the end
    assert [c.state.step for c in outs[1].path] == [4, 8, 10]
    assert p.counters.calls == 4 + 10  # mixed depths still step together
    assert p.counters.nfe == 12 + 6 + 10
    assert outs[1].reward == pytest.approx(
        float(REWARD(torch.from_numpy(outs[1].terminal.x[None])))
    )
    done = p.rollout([outs[0].terminal], rng)[0]
    assert done.path == [] and done.reward == outs[0].reward
    with pytest.raises(ValueError, match="terminal"):
        p.sample([outs[0].terminal], rng)


def test_same_seed_same_samples_and_guidance_counts_backward() -> None:
    a = ancestral(_problem(), 5, 3)[1]
    b = ancestral(_problem(), 5, 3)[1]
    np.testing.assert_array_equal(a, b)
    g = _problem(guidance_scale=0.5)
    ancestral(g, 4, 0)
    assert g.counters.nfe == 2 * 4 * 12 and g.counters.calls == 12


def test_bad_inputs() -> None:
    net = MLPDenoiser(2, hidden=8, depth=1, emb_dim=8)
    with pytest.raises(ValueError, match=">= 1"):
        DenoisingProblem(
            net, DDPMScheduler(), REWARD, sample_shape=(2,), num_steps=0, branch_every=1
        )
    with pytest.raises(ValueError, match=">= 1"):
        DenoisingProblem(
            net, DDPMScheduler(), REWARD, sample_shape=(2,), num_steps=5, branch_every=0
        )
    with pytest.raises(ValueError, match="stochastic"):
        DenoisingProblem(
            net, DDIMScheduler(eta=0.0), REWARD, sample_shape=(2,), num_steps=5, branch_every=1
        )
    with pytest.raises(ValueError, match="D=2"):
        DenoisingProblem(
            net, DDPMScheduler(), REWARD, sample_shape=(3,), num_steps=5, branch_every=1
        )
    with pytest.raises(ValueError):
        smc(_problem(), 0, 1.0)
    with pytest.raises(ValueError):
        ancestral(_problem(), 0)
    with pytest.raises(ValueError):
        Budget(nfe=0)


def test_guided_step_moves_along_the_reward_gradient() -> None:
    mix = grid_mixture()
    s = DDIMScheduler(num_train_timesteps=100, eta=0.0)
    net = ExactMixtureDenoiser(mix, s)
    lin = QuadraticReward((1.0, 0.0), (0.0, 0.0), 0.0)
    x = torch.randn(16, 2)
    plain = guided_step(net, s, x, 50, lin, 0.0, prev_timestep=40)
    ref = s.step(net(x, 50), 50, x, prev_timestep=40)
    torch.testing.assert_close(plain.prev_sample, ref.prev_sample)
    pushed = guided_step(net, s, x, 50, lin, 2.0, prev_timestep=40)
    dx = (pushed.prev_sample - plain.prev_sample).mean(0)
    assert dx[0] > 0.05 and abs(dx[1]) < 0.5 * dx[0]


def test_training_loss_backprops() -> None:
    net = MLPDenoiser(2, hidden=16, depth=1, emb_dim=8)
    s = DDPMScheduler(num_train_timesteps=100, prediction_type="v")
    loss = diffusion_loss(net, s, torch.randn(32, 2), generator=torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in net.parameters())


def test_tree_algorithms_run_unchanged_and_tilt_the_samples() -> None:
    """DTS/DTS*/best-of-N from mctd-tree on the exact model; SMC too. DTS moves mass toward c."""
    mix = grid_mixture()
    s = DDIMScheduler(num_train_timesteps=100, eta=1.0)
    p = DenoisingProblem(
        ExactMixtureDenoiser(mix, s), s, REWARD, sample_shape=(2,), num_steps=10, branch_every=5
    )
    prior = ancestral(p, 200, 0)[1].mean()
    res = dts(p, Budget(nfe=2000), lam=1.0, parallel=16, rng=0)
    assert res.stats.nfe >= 2000 and res.tree is not None
    xs = np.stack([res.tree.states[i].x for i in sample_tree(res.tree, 200, 1.0, 0)])
    assert REWARD.numpy(xs).mean() > prior + 2.0
    star = dts_star(p, Budget(nfe=2000), lam=1.0, parallel=16, rng=0)
    bon = best_of_n(p, Budget(nfe=2000), rng=0)
    assert star.best_reward > prior and bon.best_reward > prior
    sm = smc(p, 64, 1.0, 0)
    assert sm.rewards.mean() > prior + 2.0 and sm.resamples >= 1
