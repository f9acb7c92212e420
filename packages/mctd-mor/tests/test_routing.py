"""Capacities are exact; auxiliary losses match their formulas; bad settings are refused."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_mor import Compute, MoRConfig, capacity_k
from mctd_mor.routers import balance_loss, bce_loss, z_loss
from mctd_mor.testing import tiny_model


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 20),
    caps=st.lists(st.floats(0.01, 1.0), min_size=3, max_size=3).map(
        lambda c: tuple(sorted(c, reverse=True))
    ),
    seed=st.integers(0, 5),
)
def test_topk_capacities_are_exact(n: int, caps: tuple[float, ...], seed: int) -> None:
    model = tiny_model("mor-ec", seed=seed, capacities=caps)
    ids = torch.randint(0, 29, (2, n), generator=torch.Generator().manual_seed(seed))
    depth = model(ids, routing="topk").depth
    for r, c in enumerate(caps):
        want = max(1, min(n, math.ceil(c * n - 1e-9)))
        assert want == capacity_k(c, n)
        assert ((depth > r).sum(1) == want).all()


def test_default_capacities_follow_the_paper() -> None:
    assert MoRConfig(arch="mor-ec", n_recursion=3).capacities == (1.0, 2 / 3, 1 / 3)
    model = tiny_model("mor-ec")
    depth = model(torch.zeros(1, 9, dtype=torch.long), routing="topk").depth
    assert sorted(depth[0].tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_bce_loss_formula() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, generator=g, dtype=torch.float64)
    active = torch.rand(2, 6, generator=g) < 0.7
    sel = active & (torch.rand(2, 6, generator=g) < 0.5)
    p = torch.sigmoid(logits[active])
    y = sel[active].double()
    want = -(y * p.log() + (1 - y) * (1 - p).log()).mean()
    assert torch.allclose(bce_loss(logits, active, sel), want)


def test_balance_and_z_loss_formulas() -> None:
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    probs = logits.softmax(-1)
    depth = probs.argmax(-1) + 1
    valid = torch.ones(2, 5, dtype=torch.bool)
    valid[1, 3:] = False
    p, d = probs[valid], depth[valid]
    f = torch.stack([(d == i + 1).double().mean() for i in range(3)])
    want = 3 * sum(f[i] * p[:, i].mean() for i in range(3))
    assert torch.allclose(balance_loss(probs, depth, valid), want)
    zs = [torch.log(torch.exp(x).sum()) ** 2 for x in logits[valid]]
    assert torch.allclose(z_loss(logits, valid), torch.stack(zs).mean())


def test_model_aux_loss_is_the_weighted_sum() -> None:
    ec = tiny_model("mor-ec")
    ids = torch.randint(0, 29, (2, 8), generator=torch.Generator().manual_seed(2))
    out = ec(ids, routing="topk")
    assert torch.allclose(out.aux_loss, ec.cfg.bce_coef * out.losses["bce"])
    tc = tiny_model("mor-tc")
    o = tc(ids)
    want = tc.cfg.balance_coef * o.losses["balance"] + tc.cfg.z_coef * o.losses["z"]
    assert torch.allclose(o.aux_loss, want)


@pytest.mark.parametrize("n_r", [0, -1])
def test_bad_recursion_count(n_r: int) -> None:
    with pytest.raises(ValueError, match="N_r"):
        MoRConfig(arch="recursive", n_recursion=n_r)


@pytest.mark.parametrize("cap", [0.0, -0.5, 1.5, float("nan")])
def test_bad_capacity(cap: float) -> None:
    with pytest.raises(ValueError, match="capacity"):
        MoRConfig(arch="mor-ec", n_recursion=2, capacities=(1.0, cap))
    with pytest.raises(ValueError, match="capacity"):
        capacity_k(cap, 10)


def test_other_bad_configs() -> None:
    with pytest.raises(ValueError, match="increase"):
        MoRConfig(arch="mor-ec", n_recursion=2, capacities=(0.5, 1.0))
    with pytest.raises(ValueError, match="arch"):
        MoRConfig(arch="moe")
    with pytest.raises(ValueError, match="vanilla"):
        MoRConfig(arch="vanilla", n_recursion=2)
    with pytest.raises(ValueError, match="shared block"):
        MoRConfig(arch="recursive", n_layers=2, sharing="middle_cycle")


def test_bad_compute_knobs_are_refused() -> None:
    for bad, match in (
        (dict(max_depth=0), "max_depth"),
        (dict(threshold=1.5), "threshold"),
        (dict(capacities=(1.0, 0.0)), "capacity"),
        (dict(capacities=(0.5, 1.0)), "increase"),
    ):
        with pytest.raises(ValueError, match=match):
            Compute(**bad)  # type: ignore[arg-type]
    model = tiny_model("mor-ec", n_recursion=2)
    with pytest.raises(ValueError, match="need 2 capacities"):
        model(torch.zeros(1, 3, dtype=torch.long), compute=Compute(capacities=(1.0, 0.5, 0.2)))
