"""Power spectral densities on an explicit common frequency grid.

Series of any length are compared by estimating their one-sided PSD (Welch or periodogram, via
scipy) at the estimator's native frequencies and linearly interpolating it onto one fixed grid of
normalised frequencies f in [0, 0.5] cycles/sample. The mean is always removed (optionally a linear
trend too), and the zero-frequency bin is dropped: it carries the mean, not the shape. Grid points
below the lowest positive native frequency take that frequency's value.

With ``normalize=True`` (the default) each PSD is divided by its integral over the grid, so it
integrates to 1: the variance is normalised away and only the *shape* of the spectrum remains
(a series and 10x that series have the same PSD). A series with no fluctuation (constant, or exactly
linear under ``detrend="linear"``) has a PSD that is identically 0; normalisation leaves it at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import signal
from scipy.integrate import trapezoid

from mctd_spectral._validate import as_series

Method = Literal["welch", "periodogram"]
Detrend = Literal["constant", "linear"]

MIN_LENGTH = 4
"""Shortest series a PSD is estimated for (it gives two positive frequencies, 1/4 and 1/2)."""
DEFAULT_N_FREQS = 129
MAX_AUTO_NPERSEG = 64


def welch_segment_length(n: int, nperseg: int | None = None) -> int:
    """Welch segment length used for a series of ``n`` samples.

    ``nperseg=None`` picks ``min(64, max(8, n // 3))`` (never more than ``n``): about five
    half-overlapping segments for short series (low variance, which matters more than resolution
    when comparing spectra of a 24-step forecast) and a fixed 1/64 resolution for long ones (so the
    same process gives nearly the same PSD at any length). An explicit ``nperseg`` is used as is,
    clipped to ``n``.
    """
    if nperseg is None:
        nperseg = min(MAX_AUTO_NPERSEG, max(8, n // 3))
    return min(nperseg, n)


def frequency_grid(n: int = DEFAULT_N_FREQS) -> np.ndarray:
    """``n`` evenly spaced normalised frequencies on [0, 0.5] cycles/sample (both ends included)."""
    if n < 2:
        raise ValueError(f"a frequency grid needs at least 2 points, got n={n}")
    return np.linspace(0.0, 0.5, int(n))


def _check_grid(grid: ArrayLike | None) -> np.ndarray:
    if grid is None:
        return frequency_grid()
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or g.size < 2 or not np.all(np.isfinite(g)):
        raise ValueError("grid must be a 1-D array of at least 2 finite frequencies")
    if np.any(np.diff(g) <= 0) or g[0] < 0 or g[-1] > 0.5:
        raise ValueError(
            "grid must be strictly increasing within [0, 0.5] cycles/sample; "
            "use frequency_grid(n) for the default"
        )
    return g


def _check_settings(method: str, detrend: str, nperseg: int | None) -> None:
    if method not in ("welch", "periodogram"):
        raise ValueError(f"method must be 'welch' or 'periodogram', got {method!r}")
    if detrend not in ("constant", "linear"):
        raise ValueError(f"detrend must be 'constant' or 'linear', got {detrend!r}")
    if nperseg is not None and nperseg < MIN_LENGTH:
        raise ValueError(f"nperseg must be at least {MIN_LENGTH}, got {nperseg}")


def _native_psd(
    x: np.ndarray, method: Method, nperseg: int | None, detrend: Detrend
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided density PSD of each row of ``x`` (rows share a length) at native frequencies."""
    n = x.shape[-1]
    if method == "periodogram":
        freqs, p = signal.periodogram(
            x, fs=1.0, window="boxcar", detrend=detrend, scaling="density", axis=-1
        )
    else:
        seg = welch_segment_length(n, nperseg)
        freqs, p = signal.welch(
            x,
            fs=1.0,
            window="hann",
            nperseg=seg,
            noverlap=seg // 2,
            detrend=detrend,
            scaling="density",
            axis=-1,
        )
    return np.asarray(freqs, dtype=np.float64), np.asarray(p, dtype=np.float64)


def _psd_rows(
    rows: np.ndarray,
    grid: np.ndarray,
    method: Method,
    nperseg: int | None,
    normalize: bool,
    detrend: Detrend,
) -> np.ndarray:
    """PSDs of equal-length validated rows, interpolated onto ``grid`` (and normalised)."""
    freqs, p = _native_psd(rows, method, nperseg, detrend)
    out = np.empty((rows.shape[0], grid.size))
    for i in range(rows.shape[0]):
        out[i] = np.interp(grid, freqs[1:], p[i, 1:])
    total = trapezoid(out, grid, axis=-1)
    # No fluctuation (up to round-off of the detrending): the PSD is exactly 0, not noise.
    scale = np.max(np.abs(rows), axis=-1)
    flat = total <= (1e-10 * scale) ** 2
    out[flat] = 0.0
    if normalize:
        ok = ~flat
        out[ok] /= total[ok, None]
    return out


def estimate_psds(
    xs: Sequence[ArrayLike],
    *,
    method: Method = "welch",
    grid: ArrayLike | None = None,
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
) -> np.ndarray:
    """PSDs of a batch of 1-D series (lengths may differ) on one grid: shape (len(xs), len(grid)).

    Series of equal length are estimated together in one vectorised scipy call. Welch uses a Hann
    window with segments of :func:`welch_segment_length` samples and 50% overlap; the periodogram
    uses the whole series with a boxcar window. Raises ValueError for empty, NaN/inf or too-short
    (< ``MIN_LENGTH``) series; a constant series gives an all-zero PSD.
    """
    _check_settings(method, detrend, nperseg)
    g = _check_grid(grid)
    arrs = [as_series(x, name=f"series {i}", min_length=MIN_LENGTH) for i, x in enumerate(xs)]
    out = np.empty((len(arrs), g.size))
    by_length: dict[int, list[int]] = {}
    for i, a in enumerate(arrs):
        by_length.setdefault(a.size, []).append(i)
    for idx in by_length.values():
        rows = np.stack([arrs[i] for i in idx])
        out[idx] = _psd_rows(rows, g, method, nperseg, normalize, detrend)
    return out


def estimate_psd(
    x: ArrayLike,
    *,
    method: Method = "welch",
    grid: ArrayLike | None = None,
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
) -> np.ndarray:
    """PSD of one series on the common grid (see :func:`estimate_psds`)."""
    return estimate_psds(
        [x], method=method, grid=grid, nperseg=nperseg, normalize=normalize, detrend=detrend
    )[0]


def welch_psd(x: ArrayLike, **kwargs: object) -> np.ndarray:
    """Welch PSD of one series on the common grid (keyword arguments as :func:`estimate_psd`)."""
    return estimate_psd(x, method="welch", **kwargs)  # type: ignore[arg-type]


def periodogram_psd(x: ArrayLike, **kwargs: object) -> np.ndarray:
    """Periodogram of one series on the common grid (keyword arguments as :func:`estimate_psd`)."""
    return estimate_psd(x, method="periodogram", **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True)
class ReferencePSD:
    """An expected PSD E[S_c(f)] on a grid, with the estimator settings that produced it.

    Candidates are scored against it with the same settings (:meth:`psds`), so that the two sides of
    a distance are estimated alike. Build one with :func:`reference_psd` (from a corpus),
    :func:`reference_from_history` (from windows of one observed history), or directly from a known
    spectrum on a grid.
    """

    grid: np.ndarray
    power: np.ndarray
    method: Method = "welch"
    nperseg: int | None = None
    normalize: bool = True
    detrend: Detrend = "constant"
    n_series: int = field(default=1)

    def __post_init__(self) -> None:
        g = _check_grid(self.grid)
        p = np.asarray(self.power, dtype=np.float64)
        if p.shape != g.shape:
            raise ValueError(f"power has shape {p.shape} but the grid has shape {g.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError("reference power must be finite and non-negative")
        if not np.any(p > 0):
            raise ValueError(
                "reference power is identically zero: the corpus is constant, or its only "
                "variation falls where Welch's segments do not see it (a short tail); a spectral "
                "reference needs series that fluctuate (or try method='periodogram')"
            )
        _check_settings(self.method, self.detrend, self.nperseg)
        object.__setattr__(self, "grid", g)
        object.__setattr__(self, "power", p)

    def psds(self, xs: Sequence[ArrayLike]) -> np.ndarray:
        """PSDs of candidate series estimated with this reference's settings and grid."""
        return estimate_psds(
            xs,
            method=self.method,
            grid=self.grid,
            nperseg=self.nperseg,
            normalize=self.normalize,
            detrend=self.detrend,
        )


def reference_psd(
    corpus: Sequence[ArrayLike],
    *,
    method: Method = "welch",
    grid: ArrayLike | None = None,
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
) -> ReferencePSD:
    """Expected PSD of a corpus: the mean over its series of their (normalised) PSDs."""
    if len(corpus) == 0:
        raise ValueError("the reference corpus is empty; pass at least one series")
    g = _check_grid(grid)
    p = estimate_psds(
        corpus, method=method, grid=g, nperseg=nperseg, normalize=normalize, detrend=detrend
    )
    return ReferencePSD(g, p.mean(axis=0), method, nperseg, normalize, detrend, len(corpus))


def sliding_windows(series: ArrayLike, window: int, step: int | None = None) -> list[np.ndarray]:
    """Windows of ``window`` samples every ``step`` samples (default ``window // 2``).

    The last window is aligned to end at the series' end, so the most recent data is always used.
    """
    x = as_series(series, name="history")
    if window < MIN_LENGTH:
        raise ValueError(f"window must be at least {MIN_LENGTH} samples, got {window}")
    if window > x.size:
        raise ValueError(
            f"window ({window}) is longer than the series ({x.size}); "
            "pass a shorter window or a longer history"
        )
    step = max(1, window // 2) if step is None else step
    if step < 1:
        raise ValueError(f"step must be at least 1, got {step}")
    starts = list(range(0, x.size - window + 1, step))
    if starts[-1] != x.size - window:
        starts.append(x.size - window)
    return [x[s : s + window].copy() for s in starts]


def reference_from_history(
    history: ArrayLike,
    window: int,
    *,
    step: int | None = None,
    method: Method = "welch",
    grid: ArrayLike | None = None,
    nperseg: int | None = None,
    normalize: bool = True,
    detrend: Detrend = "constant",
) -> ReferencePSD:
    """Reference PSD from one observed history, split into windows of ``window`` samples.

    Pass ``window`` = the forecast horizon: the reference then has the same frequency resolution
    and estimator bias as the PSD of a forecast of that length, which is what it is compared with.
    Only the history is used (never the future).
    """
    windows = sliding_windows(history, window, step)
    return reference_psd(
        windows, method=method, grid=grid, nperseg=nperseg, normalize=normalize, detrend=detrend
    )
