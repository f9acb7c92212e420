"""``forecast``: LLMTime-style continuation of real series (via mctd-spectral's `load_series`).

``series`` entries are built-in names, ``statsmodels:DATASET:COLUMN`` or ``csv:PATH:COLUMN``; each
is loaded (and so checked: a missing column or a non-numeric cell is an error naming the file and
line) when the task is built, before a run writes anything. ``period`` sets the season m of every
series; by default each series' own (inferred from its dates where they say it, else 1).

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

Evaluation (uses the truth): MAE, sMAPE, MASE and spectral distance to the truth, plus validity.
MASE is scaled the standard way (Hyndman & Koehler 2006, as in M4): MAE / mean_{t>m}
|y_t - y_{t-m}|, the in-sample one-step seasonal-naive error over the whole observed history, m =
the series' period. Success = every value parsed and MASE < 1.

Reference rows (``baselines``, on by default): the naive forecast (last value held) and the
seasonal-naive one (last season repeated), one row per prompt at NFE 0; their metrics are computed
on the exact values, their reward on the text the model would have to write for them.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mctd_spectral import (
    Scaler,
    Series,
    SeriesCodec,
    SpectralReward,
    check_series_spec,
    forecast_metrics,
    load_series,
    naive_forecast,
    seasonal_naive_forecast,
)
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

    def write(self, values: np.ndarray) -> str:
        """``values`` (original units) as the model would write them."""
        return self.codec.encode(self.scaler.transform(values))

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
        "LLMTime-style continuation of real series (built-in names, statsmodels:DATASET:COLUMN, "
        "csv:PATH:COLUMN; period = season m, inferred by default); reward = format validity - "
        "gamma * spectral distance to the observed history (truth-free); evaluation vs held-out "
        "truth: MAE, sMAPE, MASE, spectral; success = all values parsed and MASE < 1; naive and "
        "seasonal-naive reference rows (NFE 0)."
    )
    table_note: ClassVar[str] = (
        "MASE = MAE / mean_{t>m} |y_t - y_{t-m}| over the whole observed history (the in-sample "
        "one-step seasonal-naive error, Hyndman & Koehler 2006; m = the series' period). "
        "naive (last value held) and seasonal_naive (last season repeated) are model-free "
        "reference forecasts at NFE 0."
    )
    metric_names: ClassVar[tuple[str, ...]] = ("validity", "mae", "smape", "mase", "spectral")

    series: tuple[str, ...] = ("sunspots", "co2", "elnino", "nile", "unemp", "realgdp", "cpi")
    horizon: int = 8
    history: int = 40
    precision: int = 2
    gamma: float = 1.0
    context: int = 8
    period: int | None = None
    baselines: bool = True

    def __post_init__(self) -> None:
        series = (self.series,) if isinstance(self.series, str) else tuple(self.series)
        object.__setattr__(self, "series", series)
        if not series or not all(isinstance(s, str) for s in series):
            raise ValueError(f"forecast series must be a non-empty list of names, got {series!r}")
        for spec in series:
            check_series_spec(spec)
        if self.period is not None and (
            isinstance(self.period, bool) or not isinstance(self.period, int) or self.period < 1
        ):
            raise ValueError(f"forecast period must be an integer >= 1 or null, got {self.period}")
        if self.horizon < 4:
            raise ValueError(
                f"forecast horizon must be >= 4 (a PSD needs 4 values), got {self.horizon}"
            )
        if self.history < 1 or self.context < 0 or self.precision < 0:
            raise ValueError("forecast history must be >= 1, context >= 0 and precision >= 0")
        if not (math.isfinite(self.gamma) and self.gamma >= 0):
            raise ValueError(f"forecast gamma must be finite and >= 0, got {self.gamma}")
        for spec in series:  # read now: bad data fails before a run writes anything
            _load(spec, self.period, _stamp(spec))

    def instances(self, n: int) -> list[Instance]:
        loaded = {
            name: _load(name, self.period, _stamp(name)) for name in dict.fromkeys(self.series)
        }
        out = []
        codec = SeriesCodec(precision=self.precision, separator=",", drop_decimal_point=True)
        for i in range(n):
            s = loaded[self.series[i % len(self.series)]]
            cut = len(s) - (i // len(self.series)) * self.horizon
            observed = s.values[: cut - self.horizon]
            if observed.size < max(2, self.context + self.horizon, s.period + 1):
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

    def references(self) -> tuple[str, ...]:
        return ("naive", "seasonal_naive") if self.baselines else ()

    def reference(
        self, method: str, public: ForecastPrompt, truth: np.ndarray
    ) -> tuple[str, float, dict[str, float]]:
        if method == "naive":
            forecast = naive_forecast(public.observed, public.horizon)
        elif method == "seasonal_naive":
            forecast = seasonal_naive_forecast(public.observed, public.horizon, public.period)
        else:
            return super().reference(method, public, truth)
        text = public.write(forecast)
        reward = float(ForecastReward(public, self.gamma, self.context)([text])[0])
        out: dict[str, float] = {"validity": 1.0}
        out |= forecast_metrics(truth, forecast, public.observed, m=public.period)
        out["success"] = float(out["mase"] < 1.0)
        return text, reward, out

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


def _stamp(spec: str) -> tuple[float, int] | None:
    """A CSV file's (mtime, size), so that an edited file is read again."""
    kind, _, rest = spec.partition(":")
    if kind != "csv":
        return None
    try:
        st = os.stat(os.path.expanduser(rest.rpartition(":")[0]))
    except OSError:
        return None
    return st.st_mtime, st.st_size


@functools.lru_cache(maxsize=64)
def _load(spec: str, period: int | None, stamp: tuple[float, int] | None) -> Series:
    """`load_series` once per (spec, period, file state)."""
    return load_series(spec, period=period)
