"""FLOPs as run, classifier-free guidance (2 NFE a step), the complexity-budget search."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from mctd_diffusion import DenoisingProblem, make_scheduler
from mctd_diffusion.complexity import CheapRollouts, complexity_search, rollout_capacity
from mctd_diffusion.compute import ClassifierFreeGuidance, FlopMeter, capacity
from mctd_diffusion.images import UNet2D
from mctd_diffusion.methods import run_method
from mctd_tree.errors import UserError
from torch import nn


class Routed(nn.Module):
    """A toy denoiser with a capacity knob: a Linear applied to ceil(capacity * B) rows, whose
    FLOPs it reports in ``flops`` (2 d^2 per row, a hand count)."""

    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.fixed, self.routed = nn.Linear(d, d), nn.Linear(d, d, bias=False)
        self.capacity, self.flops, self.d = 1.0, 0, d
        self.seen: list[float] = []

    def set_capacity(self, c: float) -> None:
        self.capacity = c

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
        self.seen.append(self.capacity)
        h = self.fixed(x)
        k = max(1, int(np.ceil(self.capacity * len(x))))
        self.flops += 2 * k * self.d * self.d
        return h.index_add(0, torch.arange(k), self.routed(h[:k]))


def _problem(net: nn.Module, **kw: object) -> DenoisingProblem:
    sched = make_scheduler("ddim", num_train_timesteps=100, eta=1.0)
    reward = lambda x: -(x**2).flatten(1).sum(1)  # noqa: E731
    return DenoisingProblem(
        net,
        sched,
        reward,
        sample_shape=(4,),
        num_steps=4,
        branch_every=2,
        **kw,  # type: ignore[arg-type]
    )


def test_flops_equal_a_hand_count() -> None:
    net = Routed()
    p = _problem(net)
    fixed = 2 * 4 * 4  # Linear(4, 4) on one row: 2 d^2 (FlopCounterMode leaves the bias out)
    assert p._meter.fixed == fixed
    draws = p.rollout([p.root()] * 3, np.random.default_rng(0))
    assert len(draws) == 3 and p.counters.nfe == 3 * 4
    assert p.flops == 4 * (3 * fixed + 3 * 2 * 16)  # 4 steps of 3 rows, all rows routed
    with capacity(net, 0.3):
        before = p.flops
        p.rollout([p.root()] * 3, np.random.default_rng(0))
    assert p.flops - before == 4 * (3 * fixed + 1 * 2 * 16)  # ceil(0.3 * 3) = 1 routed row
    assert net.capacity == 1.0  # restored


def test_unet_flops_match_flop_counter_mode() -> None:
    from torch.utils.flop_counter import FlopCounterMode

    net = UNet2D((2, 4, 4), channels=(8, 16), emb_dim=16, num_classes=10).eval()
    x, t, c = torch.zeros(5, 2, 4, 4), torch.full((5,), 10), torch.zeros(5, 10)
    meter = FlopMeter(net, x, t, c)
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        net(x, t, c)
    assert meter.since(meter.mark(), 5) == fc.get_total_flops()


def test_cfg_combines_two_rows_and_counts_two_nfe() -> None:
    torch.manual_seed(0)
    net = UNet2D((2, 4, 4), channels=(8, 16), emb_dim=16, num_classes=10).eval()
    onehot = torch.eye(10)[3:4]
    cfg = ClassifierFreeGuidance(net, onehot, 2.0)
    x, t = torch.randn(3, 2, 4, 4), torch.tensor([5, 50, 90])
    with torch.no_grad():
        want = 3.0 * net(x, t, onehot.expand(3, -1)) - 2.0 * net(x, t, torch.zeros(3, 10))
        assert torch.allclose(cfg(x, t, torch.zeros(1, 10)), want, atol=1e-5)
        net64, x64 = copy.deepcopy(net).double(), x.double()  # 6 rows against 3 agree to 1e-12
        torch.testing.assert_close(
            ClassifierFreeGuidance(net64, onehot.double(), 0.0)(x64, t),
            net64(x64, t, onehot.double().expand(3, -1)),
            rtol=0,
            atol=1e-12,
        )
    sched = make_scheduler("ddim", num_train_timesteps=100, eta=1.0)
    p = DenoisingProblem(
        net,
        sched,
        lambda z: -(z**2).flatten(1).mean(1),
        sample_shape=(2, 4, 4),
        num_steps=5,
        branch_every=5,
        cond=torch.zeros(1, 10),
        guide_cond=onehot,
    )
    run = run_method("cfg", p, 40, lam=1.0, n_out=8, seed=0)
    assert len(run.samples) == 4 and run.nfe == 4 * 5 * 2  # N = 40 / (2 * 5), 2 NFE a step
    plain = run_method("best_of_n", p, 20, lam=1.0, n_out=8, seed=0)
    assert run.flops == pytest.approx(2 * plain.flops * 4 / len(plain.samples), rel=1e-9)
    with pytest.raises(UserError, match="guide_cond"):
        _problem(Routed()).with_cfg(1.0)
    with pytest.raises(UserError, match=">= 0"):
        ClassifierFreeGuidance(net, onehot, -1.0)


@pytest.mark.parametrize(("budget", "cap"), [(0.5, 0.25), (1.0, 0.5), (1.5, 0.75), (3.0, 1.0)])
def test_rollouts_run_cheap_and_committed_steps_full(budget: float, cap: float) -> None:
    assert rollout_capacity(budget) == cap
    net = Routed()
    view = CheapRollouts(_problem(net), budget)
    rng = np.random.default_rng(0)
    net.seen.clear()
    kids = view.sample([view.root()] * 2, rng)
    assert set(net.seen) == {1.0}
    net.seen.clear()
    outs = view.rollout([k.state for k in kids], rng)
    assert set(net.seen) == {cap} and all(o.path == [] for o in outs)  # values only
    noisy = CheapRollouts(_problem(net), budget, by_noise=True)
    net.seen.clear()
    noisy.rollout([k.state for k in kids], rng)  # from step 2 of 4: two steps left
    ts = [noisy.problem.timestep(s) for s in (2, 3)]
    assert net.seen == pytest.approx([cap * (0.5 + 0.5 * t / 100) for t in ts])


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), True])
def test_bad_complexity_budget_is_a_user_error(bad: object) -> None:
    with pytest.raises(UserError, match="complexity budget"):
        rollout_capacity(bad)  # type: ignore[arg-type]


def test_complexity_search_returns_committed_terminals() -> None:
    net = Routed()
    p = _problem(net)
    states, best, tree = complexity_search(
        p, 200, budget=0.5, n_out=5, rng=np.random.default_rng(0), parallel=4
    )
    assert 1 <= len(states) <= 5 and all(p.is_terminal(s) for s in states)
    rewards = p.rewards(states)
    assert best == pytest.approx(rewards.max()) and list(rewards) == sorted(rewards, reverse=True)
    ids = {id(tree.states[i]) for i in range(tree.size)}
    assert all(id(s) in ids for s in states)  # samples are tree nodes: committed at capacity 1
    full = _problem(Routed())
    complexity_search(full, 200, budget=2.0, n_out=5, rng=np.random.default_rng(0), parallel=4)
    assert p.flops < full.flops  # the cheap rollouts saved FLOPs at about the same NFE
