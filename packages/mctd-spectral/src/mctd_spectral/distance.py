"""Log-PSD distance between a series and a reference spectrum.

    D(x, c) = integral_0^0.5 | log S_x(f) - log E[S_c(f)] | df

evaluated with the trapezoid rule on the reference's frequency grid (f in cycles/sample). Both
spectra are floored at ``rel_floor * max_f E[S_c(f)]`` before the log, so a frequency with no power
costs a bounded amount instead of log(0). With normalised PSDs (the default) D measures the shape
of the spectrum only: D(a*x + b, c) = D(x, c) for a != 0. D(x, x) = 0, and because the PSDs live on
a common grid, series of any lengths (>= 4) compare.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.integrate import trapezoid

from mctd_spectral.psd import (
    Detrend,
    Method,
    ReferencePSD,
    reference_psd,
)

DEFAULT_REL_FLOOR = 1e-6


def log_psd_distance(
    s_x: ArrayLike, s_ref: ArrayLike, grid: ArrayLike, *, rel_floor: float = DEFAULT_REL_FLOOR
) -> np.ndarray:
    """D between PSD(s) ``s_x`` (shape (..., F)) and ``s_ref`` (shape (F,)) on ``grid`` (F,).

    Returns an array of shape ``s_x.shape[:-1]`` (a 0-d array for one PSD).
    """
    sx = np.asarray(s_x, dtype=np.float64)
    sr = np.asarray(s_ref, dtype=np.float64)
    g = np.asarray(grid, dtype=np.float64)
    if sr.ndim != 1 or g.shape != sr.shape or sx.shape[-1:] != sr.shape:
        raise ValueError(
            f"PSD shapes do not match the grid: s_x {sx.shape}, s_ref {sr.shape}, grid {g.shape}; "
            "estimate both on the same grid"
        )
    if not rel_floor > 0:
        raise ValueError(f"rel_floor must be positive, got {rel_floor}")
    peak = float(np.max(sr))
    if not peak > 0:
        raise ValueError(
            "the reference PSD is identically zero (a constant reference series); "
            "use a reference that fluctuates"
        )
    floor = rel_floor * peak
    diff = np.abs(np.log(np.maximum(sx, floor)) - np.log(np.maximum(sr, floor)))
    return np.asarray(trapezoid(diff, g, axis=-1))


def spectral_distances(
    xs: Sequence[ArrayLike], reference: ReferencePSD, *, rel_floor: float = DEFAULT_REL_FLOOR
) -> np.ndarray:
    """D(x, reference) for a batch of series (lengths may differ): one float per series.

    Each series' PSD is estimated with the reference's own settings and grid.
    """
    if len(xs) == 0:
        return np.zeros(0)
    s = reference.psds(xs)
    return log_psd_distance(s, reference.power, reference.grid, rel_floor=rel_floor)


def log_spectral_distance(
    x: ArrayLike,
    y: ArrayLike,
    *,
    method: Method = "welch",
    grid: ArrayLike | None = None,
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
    rel_floor: float = DEFAULT_REL_FLOOR,
) -> float:
    """D(x, y): the distance of series ``x`` from the spectrum of series ``y`` (the reference).

    Not symmetric: the floor is set by ``y``'s peak power. Raises ValueError if ``y`` is constant.
    """
    ref = reference_psd(
        [y], method=method, grid=grid, nperseg=nperseg, normalize=normalize, detrend=detrend
    )
    return float(spectral_distances([x], ref, rel_floor=rel_floor)[0])
