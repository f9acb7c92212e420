import pytest
import torch
from mctd_diffusion import DDIMScheduler, DDPMScheduler, make_scheduler
from mctd_diffusion.parameterisation import target, to_x0_eps


@pytest.fixture
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 3, generator=g, dtype=torch.float64), torch.randn(
        8, 3, generator=g, dtype=torch.float64
    )


def test_timesteps_grid() -> None:
    s = DDIMScheduler(num_train_timesteps=1000)
    s.set_timesteps(50)
    ts = s.timesteps
    assert len(ts) == 50 and ts[0] == 999 and (ts.diff() < 0).all() and ts[-1] >= 0
    assert s.previous_timestep(ts[0]) == ts[1] and s.previous_timestep(ts[-1]) == -1
    with pytest.raises(ValueError):
        s.set_timesteps(0)


@pytest.mark.parametrize("kind", ["epsilon", "x0", "v"])
@pytest.mark.parametrize("name", ["ddpm", "ddim"])
def test_exact_step_recovers_x0(kind: str, name: str, data) -> None:
    x0, eps = data
    s = make_scheduler(name, num_train_timesteps=1000, prediction_type=kind, eta=0.0)
    s.set_timesteps(20)
    t, p = int(s.timesteps[5]), int(s.timesteps[6])
    xt = s.add_noise(x0, eps, t)
    ab = s.abar(t, xt)
    out = s.step(target(x0, eps, ab, kind), t, xt, noise=torch.zeros_like(x0))
    torch.testing.assert_close(out.pred_original_sample, x0)
    if name == "ddim":  # eta = 0: lands exactly on the forward marginal with the same noise
        torch.testing.assert_close(out.prev_sample, s.add_noise(x0, eps, p))
    final = s.step(target(x0, eps, ab, kind), t, xt, prev_timestep=-1, noise=torch.randn_like(x0))
    torch.testing.assert_close(final.prev_sample, x0)  # to the clean end: exactly x0


def test_ddim_eta0_is_deterministic(data) -> None:
    x0, eps = data
    s = DDIMScheduler(eta=0.0)
    s.set_timesteps(10)
    xt = s.add_noise(x0, eps, 999)
    a = s.step(eps * 0.3, 999, xt, noise=torch.randn_like(x0)).prev_sample
    b = s.step(eps * 0.3, 999, xt, noise=torch.randn_like(x0)).prev_sample
    torch.testing.assert_close(a, b)


def test_ddim_eta1_equals_ddpm(data) -> None:
    x0, eps = data
    ddim, ddpm = DDIMScheduler(eta=1.0), DDPMScheduler()
    for s in (ddim, ddpm):
        s.set_timesteps(25)
    t = int(ddim.timesteps[3])
    xt = ddim.add_noise(x0, eps, t)
    z = torch.randn_like(x0)
    a, b = ddim.step(eps * 0.7, t, xt, noise=z), ddpm.step(eps * 0.7, t, xt, noise=z)
    torch.testing.assert_close(a.prev_sample, b.prev_sample)
    torch.testing.assert_close(a.std, b.std)


def test_parameterisation_roundtrip(data) -> None:
    x0, eps = data
    ab = torch.tensor(0.37, dtype=torch.float64)
    xt = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    for kind in ("epsilon", "x0", "v"):
        rx0, reps = to_x0_eps(target(x0, eps, ab, kind), xt, ab, kind)
        torch.testing.assert_close(rx0, x0)
        torch.testing.assert_close(reps, eps)


def test_per_token_timesteps() -> None:
    """Diffusion Forcing: timesteps (B, L); tokens with prev == t stay put."""
    s = DDIMScheduler(num_train_timesteps=100, eta=1.0)
    g = torch.Generator().manual_seed(1)
    x0, eps = torch.randn(2, 4, 3, generator=g), torch.randn(2, 4, 3, generator=g)
    t = torch.tensor([[99, 60, 30, -1], [50, 50, 10, 0]])
    xt = s.add_noise(x0, eps, t)
    for b in range(2):
        for i in range(4):
            torch.testing.assert_close(xt[b, i], s.add_noise(x0[b, i], eps[b, i], int(t[b, i])))
    prev = torch.tensor([[80, 60, 0, -1], [40, 50, -1, -1]])
    out = s.step(eps, t, xt, prev_timestep=prev, noise=torch.randn_like(x0))
    torch.testing.assert_close(out.prev_sample[0, 1], xt[0, 1])  # not moving
    torch.testing.assert_close(out.prev_sample[0, 3], xt[0, 3])  # already clean
    torch.testing.assert_close(out.prev_sample[1, 2], out.pred_original_sample[1, 2])
    assert not torch.allclose(out.prev_sample[0, 0], xt[0, 0])


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="unknown scheduler"):
        make_scheduler("euler")
    with pytest.raises(ValueError, match="unknown prediction type"):
        DDIMScheduler(prediction_type="score")
    with pytest.raises(ValueError, match="eta"):
        DDIMScheduler(eta=-1.0)
    s = DDPMScheduler(num_train_timesteps=10)
    x = torch.zeros(4, 2)
    with pytest.raises(ValueError, match="do not match"):
        s.add_noise(x, x, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="model output"):
        s.step(torch.zeros(4, 3), 5, x)
    with pytest.raises(ValueError, match=r"\[-1, 9\]"):
        s.add_noise(x, x, 10)
