"""Shared input checks: every public function turns bad series into one clear ValueError."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def as_series(x: ArrayLike, *, name: str = "series", min_length: int = 1) -> np.ndarray:
    """Return ``x`` as a finite 1-D float64 array, or raise a ValueError saying what to fix."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{name} must be a 1-D sequence of numbers; could not convert it to floats ({exc})"
        ) from exc
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D, got shape {arr.shape}; pass one series at a time "
            "(use a list of arrays for a batch)"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; pass a series with at least {min_length} value(s)")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} has {int(bad.sum())} NaN/inf value(s) (first at index {first}); "
            "fill or drop them first (e.g. interpolate, or decode(..., fill='last'))"
        )
    if arr.size < min_length:
        raise ValueError(
            f"{name} has length {arr.size}, too short: need at least {min_length} values; "
            "pass a longer series"
        )
    return arr
