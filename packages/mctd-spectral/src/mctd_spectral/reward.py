"""Spectral reward: prefer candidates whose spectrum matches a reference.

    r(x) = r_task(x) - gamma * D(x, reference)

with D the log-PSD distance (:mod:`mctd_spectral.distance`) and r_task any batched task reward
(0 when none is given). The reference is built from observed data only (e.g. the history of the
series being forecast); the reward never sees the ground truth unless a caller passes it in
explicitly as ``task_reward``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from mctd_tree.errors import UserError
from mctd_tree.protocols import Reward
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series
from mctd_spectral.distance import DEFAULT_REL_FLOOR, spectral_distances
from mctd_spectral.psd import MIN_LENGTH, Detrend, Method, ReferencePSD, reference_from_history


class SpectralReward:
    """Batched reward ``r(x) = r_task(x) - gamma * D(x, reference)`` over 1-D numpy series.

    By default each candidate is scored on *its own* spectrum. With ``prefix`` (e.g. the last
    observed values), a candidate is scored on ``concatenate([prefix, x])``, which also rewards a
    smooth continuation; the reference should then be built from windows of length
    ``len(prefix) + len(x)`` (:meth:`from_history` does this).

    Candidates whose PSD is undefined (empty, NaN/inf, shorter than 4 values once the prefix is
    added) raise ValueError, unless ``invalid_reward`` is given: they then get exactly that reward
    and the task reward is not called on them. A constant candidate is valid (its PSD is 0; it is
    far from any fluctuating reference).
    """

    def __init__(
        self,
        reference: ReferencePSD,
        gamma: float,
        task_reward: Reward[np.ndarray] | None = None,
        *,
        prefix: ArrayLike | None = None,
        rel_floor: float = DEFAULT_REL_FLOOR,
        invalid_reward: float | None = None,
    ) -> None:
        if not isinstance(reference, ReferencePSD):
            raise TypeError(
                "reference must be a ReferencePSD; build one with reference_psd(corpus) or "
                "reference_from_history(history, window)"
            )
        if not (np.isfinite(gamma) and gamma >= 0):
            raise ValueError(f"gamma must be finite and >= 0, got {gamma}")
        if not rel_floor > 0:
            raise ValueError(f"rel_floor must be positive, got {rel_floor}")
        self.reference = reference
        self.gamma = float(gamma)
        self.task_reward = task_reward
        self.prefix = None if prefix is None else as_series(prefix, name="prefix")
        self.rel_floor = float(rel_floor)
        self.invalid_reward = invalid_reward

    @classmethod
    def from_history(
        cls,
        history: ArrayLike,
        horizon: int,
        gamma: float,
        task_reward: Reward[np.ndarray] | None = None,
        *,
        context: int = 0,
        step: int | None = None,
        method: Method = "welch",
        nperseg: int | None = None,
        normalize: bool = True,
        detrend: Detrend = "constant",
        rel_floor: float = DEFAULT_REL_FLOOR,
        invalid_reward: float | None = None,
    ) -> SpectralReward:
        """Reward for forecasts of ``horizon`` steps after an observed ``history``.

        The reference is the mean PSD of windows of ``context + horizon`` samples of the history.
        With ``context=0`` (default) a forecast is scored on its own spectrum; with ``context=k``
        it is scored on the last ``k`` history values followed by the forecast.
        """
        h = as_series(history, name="history")
        if context < 0 or context > h.size:
            raise ValueError(f"context must be in [0, len(history)={h.size}], got {context}")
        ref = reference_from_history(
            h,
            context + horizon,
            step=step,
            method=method,
            nperseg=nperseg,
            normalize=normalize,
            detrend=detrend,
        )
        prefix = h[h.size - context :] if context > 0 else None
        return cls(
            ref,
            gamma,
            task_reward,
            prefix=prefix,
            rel_floor=rel_floor,
            invalid_reward=invalid_reward,
        )

    def _scored(self, x: np.ndarray) -> np.ndarray:
        return x if self.prefix is None else np.concatenate([self.prefix, x])

    def _valid(self, xs: Sequence[ArrayLike]) -> tuple[list[int], list[np.ndarray]]:
        """Indices and arrays (as scored) of the candidates whose PSD is defined."""
        idx: list[int] = []
        arrs: list[np.ndarray] = []
        for i, x in enumerate(xs):
            if np.ndim(x) > 1:  # a shape mistake, never an "invalid forecast": always an error
                raise UserError(
                    f"candidate {i} has shape {np.shape(x)}; each candidate must be one 1-D "
                    "series (pass a batch as a list of 1-D arrays or a 2-D array of rows)"
                )
            try:
                a = as_series(
                    self._scored(np.asarray(x, dtype=np.float64).reshape(-1)),
                    name=f"candidate {i}",
                    min_length=MIN_LENGTH,
                )
            except (ValueError, TypeError):
                if self.invalid_reward is None:
                    raise
                continue
            idx.append(i)
            arrs.append(a)
        return idx, arrs

    def distances(self, xs: Sequence[ArrayLike]) -> np.ndarray:
        """D(x, reference) per candidate (NaN for invalid ones when ``invalid_reward`` is set)."""
        out = np.full(len(xs), np.nan)
        idx, arrs = self._valid(xs)
        if idx:
            out[idx] = spectral_distances(arrs, self.reference, rel_floor=self.rel_floor)
        return out

    def __call__(self, xs: Sequence[np.ndarray], /) -> np.ndarray:
        """One reward per candidate series, computed in one batched pass."""
        out = np.full(len(xs), np.nan if self.invalid_reward is None else self.invalid_reward)
        idx, arrs = self._valid(xs)
        if not idx:
            return out
        d = spectral_distances(arrs, self.reference, rel_floor=self.rel_floor)
        r = -self.gamma * d
        if self.task_reward is not None:
            valid_xs = [np.asarray(xs[i], dtype=np.float64) for i in idx]
            task = np.asarray(self.task_reward(valid_xs), dtype=np.float64)
            if task.shape != (len(idx),):
                raise ValueError(
                    f"task_reward returned shape {task.shape} for {len(idx)} candidates; "
                    "a Reward must return one float per candidate"
                )
            r = r + task
        out[idx] = r
        return out
