"""The MoR UNet: full capacity = fixed N_r, FLOPs = hand count, capacity knob and its errors."""

from __future__ import annotations

import pytest
import torch
from mctd_trainer.mor_unet import MoRUNet2D, middle_flops
from mctd_tree.errors import UserError
from torch.utils.flop_counter import FlopCounterMode


def _net(capacity: float = 1.0, n_r: int = 3) -> MoRUNet2D:
    torch.manual_seed(0)
    return MoRUNet2D((2, 4, 4), (8, 16), 16, 10, n_recursion=n_r, capacity=capacity)


def test_full_capacity_equals_the_fixed_recursion_network() -> None:
    net = _net(1.0, 3)
    h, e = torch.randn(3, 16, 2, 2), torch.randn(3, 16)
    cells = h.flatten(2).transpose(1, 2).reshape(12, 16)
    emb = e[:, None].expand(3, 4, 16).reshape(12, 16)
    for _ in range(3):  # the same shared block on every cell, N_r = 3 times
        cells = cells + net.shared(cells, emb)
    want = cells.view(3, 4, 16).transpose(1, 2).reshape(3, 16, 2, 2)
    assert torch.allclose(net.middle(h, e, 0), want, atol=1e-6)
    x = torch.randn(3, 2, 4, 4)
    assert net(x, torch.tensor([1, 50, 900]), torch.eye(10)[:3]).shape == x.shape


def test_flop_counter_equals_a_hand_count() -> None:
    assert middle_flops(1, 0, 2, 1) == 2 * (3 * 4 + 4 * 2)
    assert middle_flops(0, 5, 2, 1) == 2 * 5 * 3
    for cap in (1.0, 0.5, 0.25):
        net = _net(cap, 3)
        h, e = torch.randn(2, 16, 2, 2), torch.randn(2, 16)
        with FlopCounterMode(display=False) as fc:
            net.middle(h, e, 0)
        assert net.flops == fc.get_total_flops()
    # by hand, capacity 0.5 on 2 x 4 cells: keeps 2, 1, 1 per row; scores all 4 each time
    assert _count(0.5) == middle_flops(2 * (2 + 1 + 1), 2 * 4 * 3, 16, 16)
    assert _count(1.0) == middle_flops(2 * 4 * 3, 0, 16, 16) > _count(0.5)


def _count(cap: float) -> int:
    net = _net(cap, 3)
    net.middle(torch.randn(2, 16, 2, 2), torch.randn(2, 16), 0)
    return net.flops


def test_router_sees_the_noise_level_and_learns_through_the_gate() -> None:
    net = _net(0.5, 2)
    x = torch.randn(4, 2, 4, 4)
    a, b = net(x, 10), net(x, 900)
    assert not torch.allclose(a, b)
    b.sum().backward()
    assert net.router.proj[0].weight.grad is not None
    assert bool(net.router.proj[0].weight.grad.abs().sum() > 0)


@pytest.mark.parametrize("bad", [0, 0.0, -0.5, 1.5, float("nan"), True])
def test_capacity_outside_0_1_is_a_user_error(bad: float) -> None:
    with pytest.raises(UserError, match=r"capacity must be a number in \(0, 1\]"):
        _net(bad)
    with pytest.raises(UserError):
        _net().set_capacity(bad)


def test_mctd_train_unet_builds_the_mor_unet_and_checks_capacity(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from mctd_trainer.cli import app
    from mctd_trainer.digits import load_digits_model
    from typer.testing import CliRunner

    tiny = ["--steps", "2", "--ckpt-every", "2", "--batch-size", "8"]
    run = CliRunner().invoke
    assert run(app, ["vae", *tiny, "--out", str(tmp_path / "vae")]).exit_code == 0
    bad = run(
        app,
        [
            "unet",
            *tiny,
            "--vae",
            str(tmp_path / "vae"),
            "--mor-nr",
            "2",
            "--capacity",
            "1.5",
            "--out",
            str(tmp_path / "bad"),
        ],
    )
    assert bad.exit_code == 2 and "capacity must be a number in (0, 1]" in bad.output
    assert not (tmp_path / "bad").exists()
    ok = run(
        app,
        [
            "unet",
            *tiny,
            "--vae",
            str(tmp_path / "vae"),
            "--mor-nr",
            "2",
            "--capacity",
            "0.5",
            "--out",
            str(tmp_path / "mor"),
        ],
    )
    assert ok.exit_code == 0, ok.output
    net, _, _ = load_digits_model(tmp_path / "mor", "unet")
    assert isinstance(net, MoRUNet2D) and net.n_recursion == 2 and net.capacity == 0.5
