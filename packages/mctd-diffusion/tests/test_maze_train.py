import numpy as np
import pytest
import torch
from mctd_diffusion.maze.checkpoint import load_safetensors, save_safetensors
from mctd_diffusion.maze.planner import PlanCodec, PlannerConfig
from mctd_diffusion.maze.train import CKPT, load_planner, train_planner

TINY = dict(
    token_size=4, plan_steps=40, d_model=16, n_layers=1, n_heads=2, batch_size=4, neighbour=True
)
TINY_DATA = dict(data_episodes=2, data_steps=60, pyramid_frac=0.5, pos_scale=4.0)


def test_safetensors_round_trip(tmp_path):
    t = {"a": torch.randn(3, 2), "b": torch.arange(5), "c": torch.tensor([True, False])}
    save_safetensors(tmp_path / "x.safetensors", t, {"k": "v"})
    back, meta = load_safetensors(tmp_path / "x.safetensors")
    assert meta == {"k": "v"} and all(torch.equal(t[k], back[k]) for k in t)
    assert [p.name for p in tmp_path.iterdir()] == ["x.safetensors"]  # no temp files left


def test_codec_round_trip():
    cfg = PlannerConfig(**TINY)
    codec = PlanCodec(cfg)
    p = np.random.default_rng(0).uniform(0, 24, size=(3, 40, 2)).astype(np.float32)
    tok = codec.to_tokens(torch.from_numpy(codec.normalise(p)))
    assert tok.shape == (3, 10, 8)
    assert np.allclose(codec.world(codec.to_states(tok)).numpy(), p, atol=1e-4)


def test_relative_codec_round_trip_and_offsets():
    cfg = PlannerConfig(**TINY, relative=True)
    codec = PlanCodec(cfg)
    rng = np.random.default_rng(0)
    start = torch.from_numpy(rng.normal(size=(3, 2)).astype(np.float32))
    states = start[:, None, :] + 0.01 * torch.from_numpy(rng.normal(size=(3, 40, 2))).float()
    tok = codec.plan_tokens(states, start)
    assert tok.shape == (3, 10, 8) and tok.abs().max() < 0.1  # offsets, not positions
    assert torch.allclose(codec.plan_states(tok, start), states, atol=1e-6)
    absolute = PlanCodec(PlannerConfig(**TINY))
    assert torch.equal(absolute.plan_tokens(states, start), absolute.to_tokens(states))


@pytest.mark.parametrize("ema", [0.0, 0.9])
def test_training_resumes_exactly(tmp_path, monkeypatch, ema):
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    short = PlannerConfig(**TINY, **TINY_DATA, steps=4, checkpoint_every=2, ema=ema)
    full = PlannerConfig(**TINY, **TINY_DATA, steps=8, checkpoint_every=2, ema=ema)
    train_planner(short, tmp_path / "a", log=None)
    resumed = train_planner(full, tmp_path / "a", log=None)
    straight = train_planner(full, tmp_path / "b", log=None)
    assert resumed.step == straight.step == 8
    assert np.allclose(resumed.losses, straight.losses)
    model, cfg, step = load_planner(tmp_path / "a" / CKPT)
    assert step == 8 and cfg == full
    for k, v in straight.model.state_dict().items():
        assert torch.allclose(model.state_dict()[k], v)


def test_pyramid_training_levels():
    from mctd_diffusion.maze.planner import make_scheduler
    from mctd_diffusion.maze.train import noise_levels

    cfg = PlannerConfig(**TINY, pyramid_frac=1.0, sample_levels=5)
    t = noise_levels(cfg, make_scheduler(cfg), 16, torch.Generator().manual_seed(0))
    assert t.shape == (16, cfg.n_tokens) and (t >= 0).all() and (t < 1000).all()
    assert (t.diff(dim=1) >= 0).all()  # later tokens are never cleaner than earlier ones


def test_loss_weights():
    from mctd_diffusion.maze.planner import make_scheduler
    from mctd_diffusion.maze.train import loss_weights

    t = torch.tensor([[0, 19, 500, 999]])
    cfg = PlannerConfig(**TINY)
    sched = make_scheduler(cfg)
    assert torch.equal(loss_weights(cfg, sched, t), torch.ones(1, 4))
    w = loss_weights(PlannerConfig(**TINY, loss_weight="v"), sched, t)
    assert torch.allclose(w, 1 / (1 - sched.alphas_cumprod[t]).float())
    assert (w.diff(dim=1) < 0).all() and w[0, -1] >= 1.0  # low noise levels weigh the most
    try:
        loss_weights(PlannerConfig(**TINY, loss_weight="eps"), sched, t)
    except ValueError:
        pass
    else:
        raise AssertionError("unknown loss_weight accepted")


def test_fine_tune_starts_from_init(tmp_path, monkeypatch):
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    base = PlannerConfig(**TINY, **TINY_DATA, steps=4, checkpoint_every=4)
    train_planner(base, tmp_path / "base", log=None)
    tuned = PlannerConfig(**TINY, **TINY_DATA, steps=0, loss_weight="v", seed=1)
    res = train_planner(tuned, tmp_path / "tuned", log=None, init=tmp_path / "base")
    model, _, _ = load_planner(tmp_path / "base")
    for k, v in model.state_dict().items():
        assert torch.equal(res.model.state_dict()[k], v)


def test_ema_follows_its_recursion():
    from mctd_diffusion.maze.train import EMA

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


def test_ema_weights_are_loaded_by_default(tmp_path, monkeypatch):
    monkeypatch.setenv("MCTD_CACHE", str(tmp_path / "cache"))
    cfg = PlannerConfig(**TINY, **TINY_DATA, steps=6, checkpoint_every=3, ema=0.5, relative=True)
    res = train_planner(cfg, tmp_path / "r", log=None)
    ema_model, _, _ = load_planner(tmp_path / "r")
    raw_model, _, _ = load_planner(tmp_path / "r", ema=False)
    ema_w, raw_w = ema_model.state_dict(), raw_model.state_dict()
    assert all(torch.equal(res.model.state_dict()[k], v) for k, v in ema_w.items())
    assert any(not torch.equal(ema_w[k], raw_w[k]) for k in ema_w)


def test_anchored_x0_defaults_to_the_predecessor():
    from mctd_diffusion.maze.planner import build_model

    cfg = PlannerConfig(**TINY, anchor=True)
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
        build_model(PlannerConfig(**TINY, anchor=True, relative=True))
    except ValueError:
        pass
    else:
        raise AssertionError("anchor with relative accepted")
