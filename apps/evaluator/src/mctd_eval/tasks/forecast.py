"""``forecast``: LLMTime-style continuation of real series (statsmodels data via mctd-spectral).

Instance i takes series ``series[i % len(series)]`` and cuts it ``i // len(series)`` horizons
before its end: the last ``horizon`` values before the cut are the held-out truth, everything
before them is the observed history. The prompt is the raw text of the last ``history`` observed
values, scaled by LLMTime's `Scaler` (fit on the observed history) and written by `SeriesCodec`
(``precision`` decimals, decimal point dropped, comma-separated), ending in a separator; the
model continues it (no chat template). Generation stops at a newline or after
``horizon * (digits + 1) + 2`` tokens.

Search reward (truth-free): r = validity - gamma * D(forecast, history), with validity = the
fraction of the ``horizon`` values that parsed and D the log-PSD distance of the last ``context``
observed values followed by the forecast from windows of the observed history
(`SpectralReward.from_history`). Text with no number gets validity 0 and the distance of a flat
forecast (the last observed value held), a defined low reward rather than a silent constant.

Evaluation (uses the truth): MAE, sMAPE, MASE (seasonal-naive scale over the observed history,
m = the series' period) and spectral distance to the truth, plus validity.
Success = every value parsed and MASE < 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mctd_spectral import Scaler, SeriesCodec, SpectralReward, forecast_metrics, load_series
from mctd_spectral import list_series as spectral_series
from mctd_tree.protocols import LanguageModel

from mctd_eval.tasks.base import Instance, TaskBase


@dataclass(frozen=True)
class ForecastPrompt:
    """What the search may see: the observed history (never the future) and how it is written."""

    series: str
    observed: np.ndarray
    shown: np.ndarray
    scaler: Scaler
    codec: SeriesCodec
    horizon: int
    period: int

    def text(self) -> str:
        return self.codec.encode(self.scaler.transform(self.shown)) + self.codec.separator

    def digits(self) -> int:
        return max(len(w) for w in self.codec.encode(self.scaler.transform(self.shown)).split(","))

    def parse(self, text: str) -> tuple[np.ndarray, float]:
        """Forecast in original units (missing values carried forward) and its validity."""
        values, validity = self.codec.decode(text, self.horizon, fill="last")
        return self.scaler.inverse_transform(values), validity


class ForecastReward:
    """Batched truth-free reward r = validity - gamma * D (see the module docstring)."""

    def __init__(self, prompt: ForecastPrompt, gamma: float, context: int) -> None:
        self.prompt = prompt
        self.spectral = SpectralReward.from_history(
            prompt.observed, prompt.horizon, gamma, context=context
        )

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        flat = np.full(self.prompt.horizon, float(self.prompt.observed[-1]))
        forecasts, validity = [], []
        for t in texts:
            x, v = self.prompt.parse(t)
            forecasts.append(x if v > 0 and np.all(np.isfinite(x)) else flat)
            validity.append(v)
        return np.asarray(validity) + self.spectral(forecasts)


@dataclass(frozen=True)
class ForecastTask(TaskBase):
    name: ClassVar[str] = "forecast"
    description: ClassVar[str] = (
        "LLMTime-style continuation of real statsmodels series; reward = format validity - "
        "gamma * spectral distance to the observed history (truth-free); evaluation vs held-out "
        "truth: MAE, sMAPE, MASE, spectral; success = all values parsed and MASE < 1."
    )
    metric_names: ClassVar[tuple[str, ...]] = ("validity", "mae", "smape", "mase", "spectral")

    series: tuple[str, ...] = ("sunspots", "co2", "elnino", "nile", "unemp", "realgdp", "cpi")
    horizon: int = 8
    history: int = 40
    precision: int = 2
    gamma: float = 1.0
    context: int = 8

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", tuple(self.series))
        unknown = [s for s in self.series if s not in spectral_series()]
        if unknown or not self.series:
            raise ValueError(f"unknown series {unknown}; valid: {', '.join(spectral_series())}")
        if self.horizon < 4:
            raise ValueError(
                f"forecast horizon must be >= 4 (a PSD needs 4 values), got {self.horizon}"
            )
        if self.history < 1 or self.context < 0 or self.precision < 0:
            raise ValueError("forecast history must be >= 1, context >= 0 and precision >= 0")
        if not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"forecast gamma must be finite and >= 0, got {self.gamma}")

    def instances(self, n: int) -> list[Instance]:
        loaded = {name: load_series(name) for name in dict.fromkeys(self.series)}
        out = []
        codec = SeriesCodec(precision=self.precision, separator=",", drop_decimal_point=True)
        for i in range(n):
            s = loaded[self.series[i % len(self.series)]]
            cut = len(s) - (i // len(self.series)) * self.horizon
            observed = s.values[: cut - self.horizon]
            if observed.size < max(self.history, self.context + self.horizon, s.period + 1):
                raise ValueError(
                    f"series {s.name} is too short for prompt {i} (history {observed.size}); "
                    "ask for fewer prompts or a shorter horizon"
                )
            truth = s.values[cut - self.horizon : cut].copy()
            public = ForecastPrompt(
                s.name,
                observed.copy(),
                observed[-self.history :].copy(),
                Scaler.fit(observed),
                codec,
                self.horizon,
                s.period,
            )
            out.append(Instance(i, f"{s.name}@{cut - self.horizon}", public, truth))
        return out

    def max_new_tokens(self, public: ForecastPrompt) -> int:
        return self.horizon * (public.digits() + 1) + 2

    def prompt_ids(self, lm: LanguageModel, public: ForecastPrompt) -> list[int]:
        return lm.encode(public.text())

    def search_reward(
        self, lm: LanguageModel, prompt_ids: Sequence[int], public: Any, *, verifier: Any = None
    ) -> ForecastReward:
        return ForecastReward(public, self.gamma, self.context)

    def evaluate(self, text: str, public: ForecastPrompt, truth: np.ndarray) -> dict[str, float]:
        forecast, validity = public.parse(text)
        out = {"validity": validity}
        if validity > 0 and np.all(np.isfinite(forecast)):
            out |= forecast_metrics(truth, forecast, public.observed, m=public.period)
        else:
            out |= dict.fromkeys(("mae", "smape", "mase", "spectral"), math.nan)
        out["success"] = float(validity == 1.0 and out["mase"] < 1.0)
        return out
