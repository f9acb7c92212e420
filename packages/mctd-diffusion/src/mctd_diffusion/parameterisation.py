"""Network parameterisations: what the denoiser predicts, and conversions to (x0, eps).

With x_t = a x0 + b eps, a = sqrt(abar_t), b = sqrt(1 - abar_t), a^2 + b^2 = 1:
- "epsilon": eps;  x0 = (x_t - b eps) / a
- "x0"/"sample": x0;  eps = (x_t - a x0) / b
- "v": v = a eps - b x0;  x0 = a x_t - b v,  eps = b x_t + a v
"""

from __future__ import annotations

import torch

PREDICTIONS = ("epsilon", "x0", "v")
_ALIASES = {"eps": "epsilon", "epsilon": "epsilon", "x0": "x0", "sample": "x0", "v": "v"}


def check_prediction(kind: str) -> str:
    """Canonical name of a parameterisation, or a ValueError naming the valid ones."""
    try:
        return _ALIASES[kind]
    except KeyError:
        raise ValueError(
            f"unknown prediction type {kind!r}; expected one of {PREDICTIONS}"
        ) from None


def to_x0_eps(
    pred: torch.Tensor, x_t: torch.Tensor, abar: torch.Tensor, kind: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x0, eps) implied by a prediction of type ``kind``; ``abar`` broadcasts against ``x_t``."""
    kind = check_prediction(kind)
    a, b = abar.sqrt(), (1 - abar).sqrt()
    if kind == "epsilon":
        return (x_t - b * pred) / a, pred
    if kind == "x0":
        return pred, (x_t - a * pred) / b.clamp_min(1e-12)
    return a * x_t - b * pred, b * x_t + a * pred


def target(x0: torch.Tensor, eps: torch.Tensor, abar: torch.Tensor, kind: str) -> torch.Tensor:
    """The regression target of a parameterisation for x_t = sqrt(abar) x0 + sqrt(1-abar) eps."""
    kind = check_prediction(kind)
    if kind == "epsilon":
        return eps
    if kind == "x0":
        return x0
    return abar.sqrt() * eps - (1 - abar).sqrt() * x0
