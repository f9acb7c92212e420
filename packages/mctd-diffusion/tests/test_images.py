"""Digits data, VAE, 2-D UNet, classifier and latent rewards (tiny, fast; training ones slow)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from mctd_diffusion import DenoisingProblem, make_scheduler
from mctd_diffusion.images import (
    VAE,
    ClassReward,
    DigitClassifier,
    SymmetryReward,
    UNet2D,
    check_latent_match,
    classifier_loss,
    kl_divergence,
    load_digits_split,
    vae_loss,
)
from mctd_diffusion.images.classifier import accuracy
from mctd_diffusion.images.metrics import frechet_distance, mean_pairwise_distance, score_latents
from mctd_diffusion.methods import METHODS, run_method
from mctd_tree.errors import UserError


def test_split_is_fixed_stratified_and_scaled() -> None:
    a, b = load_digits_split(), load_digits_split()
    assert a.x_train.shape == (1437, 1, 8, 8) and a.x_val.shape == (360, 1, 8, 8)
    assert torch.equal(a.x_val, b.x_val) and torch.equal(a.y_train, b.y_train)
    assert float(a.x_train.min()) >= 0.0 and float(a.x_train.max()) <= 1.0
    assert torch.bincount(a.y_val).min() >= 35  # stratified: ~36 of each class


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000))
def test_kl_matches_torch_distributions(seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    mu, logvar = torch.randn(3, 2, 4, 4, generator=g), torch.randn(3, 2, 4, 4, generator=g)
    q = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros_like(mu), torch.ones_like(mu))
    want = torch.distributions.kl_divergence(q, p).flatten(1).sum(1)
    assert torch.allclose(kl_divergence(mu, logvar), want, atol=1e-5)


def test_vae_shapes_and_latent_scale() -> None:
    vae = VAE(channels=8, latent_channels=3)
    x = torch.rand(5, 1, 8, 8)
    recon, mu, logvar = vae(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (5, 3, 4, 4)
    assert vae.latent_shape == (3, 4, 4) and float(vae_loss(vae, x).detach()) > 0
    scale = vae.fit_latent_scale(torch.rand(64, 1, 8, 8))
    assert torch.allclose(vae.to_latent(x), vae.encode(x)[0] * scale)
    with pytest.raises(ValueError, match=r"\(B, 3, 4, 4\)"):
        vae.decode(torch.zeros(1, 2, 4, 4))


def test_unet_shape_and_timestep_dependence() -> None:
    torch.manual_seed(0)
    net = UNet2D((2, 4, 4), channels=(8, 16), emb_dim=16, num_classes=10)
    x = torch.randn(4, 2, 4, 4)
    onehot = torch.eye(10)[:4]
    out = net(x, torch.tensor([0, 10, 500, 999]), onehot)
    assert out.shape == x.shape
    a, b = net(x, 10, onehot), net(x, 900, onehot)
    assert not torch.allclose(a, b, atol=1e-4)  # the noise level changes the prediction
    assert not torch.allclose(net(x, 10, torch.zeros(4, 10)), a, atol=1e-4)  # so does the class
    with pytest.raises(ValueError, match="expects latents"):
        net(torch.randn(1, 3, 4, 4), 1)


def test_latent_shape_mismatch_is_a_user_error() -> None:
    net = UNet2D((2, 4, 4), channels=(8, 16), emb_dim=16)
    check_latent_match(VAE(8, 2).latent_shape, net)
    with pytest.raises(UserError, match="UNet was built for"):
        check_latent_match(VAE(8, 4).latent_shape, net)


@pytest.mark.parametrize("bad", [-1, 10, 3.0, True])
def test_target_class_outside_0_9_is_a_user_error(bad: object) -> None:
    with pytest.raises(UserError, match="0-9"):
        ClassReward(VAE(8), DigitClassifier(4), bad)  # type: ignore[arg-type]


def test_rewards_on_latents() -> None:
    vae, clf = VAE(8), DigitClassifier(4)
    z = torch.randn(6, 2, 4, 4, requires_grad=True)
    r = ClassReward(vae, clf, 3)(z)
    assert r.shape == (6,) and bool((r <= 0).all())
    logp = torch.log_softmax(clf(vae.from_latent(z)), -1)
    assert torch.allclose(torch.logsumexp(logp, -1), torch.zeros(6), atol=1e-5)
    r.sum().backward()
    assert z.grad is not None and bool(z.grad.abs().sum() > 0)  # differentiable: guidance works
    img = torch.rand(2, 1, 8, 8)
    sym = img + img.flip(-1)
    assert torch.allclose(
        -(sym - sym.flip(-1)).pow(2).flatten(1).mean(1), torch.zeros(2), atol=1e-7
    )
    s = SymmetryReward(vae)(z.detach())
    assert s.shape == (6,) and bool((s <= 0).all())


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_method_runs_on_latents(name: str) -> None:
    torch.manual_seed(0)
    vae, clf = VAE(8), DigitClassifier(4)
    net = UNet2D((2, 4, 4), channels=(8, 16), emb_dim=16, num_classes=10)
    sched = make_scheduler("ddim", num_train_timesteps=100, eta=1.0)
    problem = DenoisingProblem(
        net,
        sched,
        ClassReward(vae, clf, 7),
        sample_shape=(2, 4, 4),
        num_steps=4,
        branch_every=2,
        cond=torch.zeros(1, 10),
        guide_cond=torch.eye(10)[7:8],
    )
    run = run_method(name, problem, 48, lam=1.0, n_out=4, seed=0, parallel=4)
    assert run.samples.shape[1:] == (2, 4, 4) and run.nfe <= 48 + 8 * 4
    imgs = vae.from_latent(torch.from_numpy(run.samples))
    assert imgs.shape[1:] == (1, 8, 8) and np.isfinite(run.rewards).all()
    assert run.flops > 0


def _train(model: torch.nn.Module, loss, steps: int, lr: float) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr)
    for _ in range(steps):
        opt.zero_grad()
        loss(g).backward()
        opt.step()


VAE_RMSE_BOUND = 0.12  # per-pixel RMSE on validation digits (pixels in [0, 1]) after 600 steps


@pytest.mark.slow
def test_vae_round_trip_on_validation_digits() -> None:
    d = load_digits_split()
    vae = VAE()

    def loss(g: torch.Generator) -> torch.Tensor:
        idx = torch.randint(0, len(d.x_train), (64,), generator=g)
        return vae_loss(vae, d.x_train[idx], generator=g)

    _train(vae, loss, 600, 2e-3)
    with torch.no_grad():
        rmse = float((vae.decode(vae.encode(d.x_val)[0]) - d.x_val).pow(2).mean().sqrt())
    assert rmse < VAE_RMSE_BOUND


@pytest.mark.slow
def test_classifier_above_95_percent_on_validation() -> None:
    d = load_digits_split()
    clf = DigitClassifier()

    def loss(g: torch.Generator) -> torch.Tensor:
        idx = torch.randint(0, len(d.x_train), (64,), generator=g)
        return classifier_loss(clf, d.x_train[idx], d.y_train[idx], generator=g)

    _train(clf, loss, 600, 3e-3)
    assert accuracy(clf, d.x_val, d.y_val) > 0.95


@settings(max_examples=25, deadline=None)
@given(st.floats(-3, 3), st.floats(-3, 3), st.floats(0.2, 3), st.floats(0.2, 3))
def test_frechet_distance_matches_the_1d_closed_form(
    m1: float, m2: float, s1: float, s2: float
) -> None:
    base = np.random.default_rng(0).standard_normal((4000, 1))
    base = (base - base.mean()) / base.std(ddof=1)  # exactly mean 0, sample std 1
    got = frechet_distance(m1 + s1 * base, m2 + s2 * base)
    assert got == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2, abs=1e-8)


def test_frechet_and_diversity_on_known_sets() -> None:
    f = np.random.default_rng(1).standard_normal((50, 4))
    assert frechet_distance(f, f) == pytest.approx(0.0, abs=1e-7)
    pts = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 8.0]])
    assert mean_pairwise_distance(pts) == pytest.approx((5 + 8 + 5) / 3)
    assert mean_pairwise_distance(pts[:1]) == 0.0


def test_score_latents_reports_every_metric() -> None:
    vae, clf = VAE(8), DigitClassifier(4)
    m = score_latents(
        np.random.default_rng(0).standard_normal((6, 2, 4, 4)), vae, clf, 2, torch.rand(5, 1, 8, 8)
    )
    assert set(m) == {"target_rate", "mean_reward", "diversity", "frechet"}
    assert 0 <= m["target_rate"] <= 1 and m["mean_reward"] <= 0 and m["diversity"] > 0
    with pytest.raises(UserError):
        score_latents(np.zeros((2, 2, 4, 4)), vae, clf, 11, torch.rand(5, 1, 8, 8))
