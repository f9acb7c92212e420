import pytest
import torch
from mctd_diffusion import MLPDenoiser, TransformerDenoiser, UNet1D

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def _models() -> list[tuple[torch.nn.Module, tuple[int, ...]]]:
    return [
        (MLPDenoiser(2, hidden=16, depth=2, emb_dim=8, cond_dim=3), (5, 2)),
        (
            TransformerDenoiser(4, d_model=16, n_heads=2, n_layers=1, max_len=8, cond_dim=3),
            (5, 8, 4),
        ),
        (UNet1D(4, channels=(8, 16), emb_dim=8, cond_dim=3), (5, 8, 4)),
    ]


@pytest.mark.parametrize("device", DEVICES)
def test_shapes_and_dtypes(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    for model, shape in _models():
        model = model.to(device)
        x = torch.randn(shape, device=device)
        cond = torch.randn(shape[0], 3, device=device)
        per_token = torch.randint(0, 1000, shape[:-1], device=device)
        for t in (7, torch.full((shape[0],), 3, device=device), per_token):
            out = model(x, t, cond)
            assert out.shape == x.shape and out.dtype == torch.float32 and out.device == x.device
            assert torch.isfinite(out).all()
        out.sum().backward()


def test_per_token_noise_level_matters() -> None:
    torch.manual_seed(0)
    for model, shape in _models()[1:]:
        x = torch.randn(shape)
        t = torch.full(shape[:-1], 500)
        t2 = t.clone()
        t2[:, 0] = 0
        with torch.no_grad():
            assert not torch.allclose(model(x, t)[:, 0], model(x, t2)[:, 0])


def test_shape_mismatch_errors() -> None:
    mlp, tr, unet = (m for m, _ in _models())
    with pytest.raises(ValueError, match="D=2"):
        mlp(torch.zeros(4, 3), 0)
    with pytest.raises(ValueError, match="do not fit"):
        mlp(torch.zeros(4, 2), torch.zeros(3))
    with pytest.raises(ValueError, match="cond must have shape"):
        mlp(torch.zeros(4, 2), 0, torch.zeros(4, 2))
    with pytest.raises(ValueError, match=r"\(B, L, D\)"):
        tr(torch.zeros(4, 2), 0)
    with pytest.raises(ValueError, match="max_len"):
        tr(torch.zeros(1, 9, 4), 0)
    with pytest.raises(ValueError, match=r"\(B, L, D\)"):
        unet(torch.zeros(1, 7, 5), 0)
    with pytest.raises(ValueError, match="unconditional"):
        MLPDenoiser(2)(torch.zeros(1, 2), 0, torch.zeros(1, 1))


@pytest.mark.parametrize("length", [1, 3, 7, 8, 13, 51])
def test_unet_any_length(length: int) -> None:
    """Lengths that do not divide by 2^(levels - 1) are padded and cropped back."""
    torch.manual_seed(0)
    unet = UNet1D(6, channels=(8, 16, 32), emb_dim=8)
    x = torch.randn(2, length, 6)
    out = unet(x, torch.randint(0, 1000, (2, length)))
    assert out.shape == x.shape and torch.isfinite(out).all()


def test_unet_respects_per_token_levels() -> None:
    """Per-token levels are not a global level: all tokens at t equal the scalar t, and moving
    one token's level changes the output most around that token (GroupNorm's statistics carry a
    smaller change everywhere)."""
    torch.manual_seed(0)
    unet = UNet1D(4, channels=(8, 16), emb_dim=8, kernel_size=3).eval()
    x = torch.randn(1, 64, 4)
    t = torch.full((1, 64), 500)
    with torch.no_grad():
        assert torch.allclose(unet(x, t), unet(x, 500), atol=1e-6)
        for j in (10, 33):
            t2 = t.clone()
            t2[0, j] = 0
            diff = (unet(x, t2) - unet(x, t)).abs().sum(-1)[0]
            assert abs(int(diff.argmax()) - j) <= 4
            assert diff[j - 2 : j + 3].mean() > 2 * diff.mean()


@pytest.mark.parametrize("channels", [(8, 16), (8, 16, 32)])
def test_unet_full_resolution_skip(channels: tuple[int, ...]) -> None:
    """A position's input reaches its own output without the stride-2 path: with the
    down-sampling convs zeroed the output still depends on the same position's x.
    (Diffuser's up path never reads the finest skip; a skip-x0 planner built on it predicts the
    noise of low levels only through a 2x bottleneck, and could not overfit a single plan.)"""
    torch.manual_seed(0)
    unet = UNet1D(3, channels=channels, emb_dim=8).eval()
    with torch.no_grad():
        for conv in unet.downsample:
            conv.weight.zero_()
            conv.bias.zero_()  # type: ignore[union-attr]
    x = torch.randn(1, 16, 3, requires_grad=True)
    unet(x, torch.full((1, 16), 10))[0, 7].sum().backward()
    assert x.grad is not None
    per_pos = x.grad[0].abs().sum(-1)
    assert per_pos[7] > 1e-3
