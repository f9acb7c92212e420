import numpy as np
import pytest
import torch
from mctd_diffusion.maze.planner import PlanCodec, PlannerArch, PlannerTraining, build_model
from mctd_diffusion.maze.train import PlannerLoss, planner_from_tensors

TINY = dict(token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2, neighbour=True)
TINY_DATA = dict(batch_size=4, data_episodes=2, data_steps=60, pyramid_frac=0.5)


def test_config_splits_into_architecture_and_training():
    legacy = {**TINY, "pos_scale": 4.0, "steps": 9, "lr": 0.5, "ema": 0.9, "loss_weight": "v"}
    arch, train = PlannerArch.from_dict(legacy), PlannerTraining.from_dict(legacy)
    assert arch == PlannerArch(**TINY, pos_scale=4.0)
    assert train == PlannerTraining(steps=9, lr=0.5, ema=0.9, loss_weight="v")
    assert set(arch.to_dict()).isdisjoint(train.to_dict())


def test_loss_depends_only_on_the_step(tmp_path, monkeypatch):
    """The batch of step i comes from (seed, i): what makes a resumed run replay exactly."""
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    arch = PlannerArch(**TINY, pos_scale=4.0)
    loss = PlannerLoss(arch, PlannerTraining(**TINY_DATA, loss_weight="v"))
    torch.manual_seed(0)
    model = build_model(arch)
    a, b, c = loss(model, 3), loss(model, 5), loss(model, 3)
    assert torch.isfinite(a) and a.ndim == 0 and torch.equal(a, c) and not torch.equal(a, b)
    a.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(ValueError, match="loss_weight"):
        PlannerLoss(arch, PlannerTraining(**TINY_DATA, loss_weight="eps"))


def test_planner_from_tensors_prefers_ema():
    arch = PlannerArch(**TINY)
    torch.manual_seed(0)
    sd = build_model(arch).state_dict()
    tensors = {f"model.{k}": v for k, v in sd.items()} | {f"ema.{k}": v * 2 for k, v in sd.items()}
    ema, raw = planner_from_tensors(tensors, arch), planner_from_tensors(tensors, arch, ema=False)
    assert not ema.training
    assert all(torch.equal(ema.state_dict()[k], v * 2) for k, v in sd.items())
    assert all(torch.equal(raw.state_dict()[k], v) for k, v in sd.items())


def test_codec_round_trip():
    cfg = PlannerArch(**TINY)
    codec = PlanCodec(cfg)
    p = np.random.default_rng(0).uniform(0, 24, size=(3, 40, 2)).astype(np.float32)
    tok = codec.to_tokens(torch.from_numpy(codec.normalise(p)))
    assert tok.shape == (3, 10, 8)
    assert np.allclose(codec.world(codec.to_states(tok)).numpy(), p, atol=1e-4)


def test_relative_codec_round_trip_and_offsets():
    cfg = PlannerArch(**TINY, relative=True)
    codec = PlanCodec(cfg)
    rng = np.random.default_rng(0)
    start = torch.from_numpy(rng.normal(size=(3, 2)).astype(np.float32))
    states = start[:, None, :] + 0.01 * torch.from_numpy(rng.normal(size=(3, 40, 2))).float()
    tok = codec.plan_tokens(states, start)
    assert tok.shape == (3, 10, 8) and tok.abs().max() < 0.1  # offsets, not positions
    assert torch.allclose(codec.plan_states(tok, start), states, atol=1e-6)
    absolute = PlanCodec(PlannerArch(**TINY))
    assert torch.equal(absolute.plan_tokens(states, start), absolute.to_tokens(states))


def test_pyramid_training_levels():
    from mctd_diffusion.maze.planner import make_scheduler
    from mctd_diffusion.maze.train import noise_levels

    cfg = PlannerArch(**TINY)
    train = PlannerTraining(pyramid_frac=1.0, sample_levels=5)
    t = noise_levels(cfg, train, make_scheduler(cfg), 16, torch.Generator().manual_seed(0))
    assert t.shape == (16, cfg.n_tokens) and (t >= 0).all() and (t < 1000).all()
    assert (t.diff(dim=1) >= 0).all()  # later tokens are never cleaner than earlier ones


def test_loss_weights():
    from mctd_diffusion.maze.planner import make_scheduler
    from mctd_diffusion.maze.train import loss_weights

    t = torch.tensor([[0, 19, 500, 999]])
    sched = make_scheduler(PlannerArch(**TINY))
    assert torch.equal(loss_weights(PlannerTraining(), sched, t), torch.ones(1, 4))
    w = loss_weights(PlannerTraining(loss_weight="v"), sched, t)
    assert torch.allclose(w, 1 / (1 - sched.alphas_cumprod[t]).float())
    assert (w.diff(dim=1) < 0).all() and w[0, -1] >= 1.0  # low noise levels weigh the most
    try:
        loss_weights(PlannerTraining(loss_weight="eps"), sched, t)
    except ValueError:
        pass
    else:
        raise AssertionError("unknown loss_weight accepted")


def test_anchored_x0_defaults_to_the_predecessor():
    from mctd_diffusion.maze.planner import build_model

    cfg = PlannerArch(**TINY, anchor=True)
    model = build_model(cfg)
    for p in model.net.parameters():  # F = 0: x0_hat is the skip term alone
        torch.nn.init.zeros_(p)
    start = torch.tensor([[0.5, -1.0]])
    ctx = PlanCodec(cfg).context(start)
    x = torch.cat([ctx, torch.randn(1, cfg.n_tokens, cfg.token_dim)], dim=1)
    t = torch.cat([torch.zeros(1, 1, dtype=torch.long), torch.full((1, cfg.n_tokens), 999)], 1)
    x0 = model(x, t)
    first = x0[0, 1].reshape(-1, 2)
    assert torch.allclose(first, start.expand_as(first), atol=0.03)  # pure noise -> the start
    t_clean = torch.zeros_like(t)
    assert torch.allclose(model(x, t_clean), x, atol=1e-3)  # clean tokens pass through
    try:
        build_model(PlannerArch(**TINY, anchor=True, relative=True))
    except ValueError:
        pass
    else:
        raise AssertionError("anchor with relative accepted")
