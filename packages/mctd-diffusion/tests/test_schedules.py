import math

import numpy as np
import pytest
import torch
from mctd_diffusion.schedules import alphas_cumprod, cosine_betas, linear_betas, make_betas


def test_linear_alpha_bar_closed_form() -> None:
    betas = linear_betas(1000)
    ab = alphas_cumprod(betas).numpy()
    ref = np.cumprod(1 - np.linspace(1e-4, 2e-2, 1000))
    np.testing.assert_allclose(ab, ref, rtol=1e-12)
    assert ab[0] == pytest.approx(1 - 1e-4)
    assert ab[-1] == pytest.approx(4.0358e-5, rel=1e-3)  # the DDPM value


def test_cosine_alpha_bar_closed_form() -> None:
    T, s = 100, 8e-3
    ab = alphas_cumprod(cosine_betas(T)).numpy()

    def f(t: float) -> float:
        return math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2

    ref = np.array([f(t + 1) / f(0) for t in range(T)])
    np.testing.assert_allclose(ab[:-1], ref[:-1], rtol=1e-10)  # the last beta is clipped
    assert (np.diff(ab) < 0).all()


def test_unknown_schedule_and_bad_length() -> None:
    with pytest.raises(ValueError, match="unknown beta schedule"):
        make_betas("quadratic", 10)
    with pytest.raises(ValueError, match=">= 1"):
        linear_betas(0)
    assert make_betas("cosine", 10).dtype == torch.float64
