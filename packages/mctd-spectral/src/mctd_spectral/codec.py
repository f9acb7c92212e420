"""LLMTime-style series <-> text codecs.

A series is rescaled (:class:`Scaler`), written as fixed-precision numbers joined by a separator
(:class:`SeriesCodec`), given to a language model, and the model's text is parsed back tolerantly.

Pipeline for a forecast::

    scaler = Scaler.fit(history)
    prompt = codec.encode(scaler.transform(history)) + codec.separator
    values, validity = codec.decode(generated_text, horizon, fill="last")
    forecast = scaler.inverse_transform(values)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from mctd_spectral._validate import as_series

_NUMBER = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_RESERVED = set("0123456789.-")


@dataclass(frozen=True)
class Scaler:
    """Affine rescaling ``x -> (x - shift) / scale`` and its inverse."""

    shift: float = 0.0
    scale: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.shift) and np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(
                f"Scaler needs a finite shift and a finite positive scale, got "
                f"shift={self.shift}, scale={self.scale}"
            )

    @classmethod
    def fit(
        cls,
        history: ArrayLike,
        *,
        percentile: float = 95.0,
        target: float = 1.0,
        beta: float = 0.3,
        basic: bool = False,
    ) -> Scaler:
        """LLMTime's scaler: the ``percentile`` of the (shifted) history maps to ``target``.

        ``basic=True``: no shift; the percentile of |history| maps to ``target`` (the scale is at
        least 0.01, so signs are kept and near-zero series are not blown up). Otherwise
        (default): shift by ``min - beta * (max - min)`` so all values, and forecasts somewhat
        below the observed minimum, are positive, then scale the percentile of the shifted
        history to ``target``. A constant history (percentile 0 after shifting) gets scale
        ``1 / target``, i.e. it maps to 0.
        """
        h = as_series(history, name="history")
        if not 0 < percentile <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {percentile}")
        if not (np.isfinite(target) and target > 0):
            raise ValueError(f"target must be finite and positive, got {target}")
        if not (np.isfinite(beta) and beta >= 0):
            raise ValueError(f"beta must be finite and >= 0, got {beta}")
        if basic:
            q = max(float(np.percentile(np.abs(h), percentile)), 0.01)
            return cls(0.0, q / target)
        lo, hi = float(h.min()), float(h.max())
        shift = lo - beta * (hi - lo)
        q = float(np.percentile(h - shift, percentile))
        if not q > 0:
            q = 1.0
        return cls(shift, q / target)

    def transform(self, x: ArrayLike) -> np.ndarray:
        """Scaled values ``(x - shift) / scale`` (NaN passes through)."""
        return (np.asarray(x, dtype=np.float64) - self.shift) / self.scale

    def inverse_transform(self, z: ArrayLike) -> np.ndarray:
        """Original units ``z * scale + shift`` (NaN passes through)."""
        return np.asarray(z, dtype=np.float64) * self.scale + self.shift


@dataclass(frozen=True)
class SeriesCodec:
    """Fixed-precision text for numbers, e.g. ``"0.512, 0.498, 0.533"``.

    ``precision``: decimals kept (values are rounded half-to-even at that precision).
    ``separator``: between values (``", "``, ``" , "``, ``" "``...). ``drop_decimal_point``: write
    ``round(x * 10**precision)`` as an integer, as LLMTime does (``0.512 -> "512"``,
    ``0.012 -> "12"``). ``digit_separator``: put between the characters of each number (LLMTime
    uses ``" "`` for GPT-3's tokenizer: ``"5 1 2"``). Separators may not contain digits, ``.`` or
    ``-``, and must differ once surrounding spaces are stripped.
    """

    precision: int = 3
    separator: str = ", "
    drop_decimal_point: bool = False
    digit_separator: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.precision <= 15:
            raise ValueError(f"precision must be in [0, 15] decimals, got {self.precision}")
        if self.separator == "":
            raise ValueError("separator must be non-empty, e.g. ', '")
        for label, sep in (
            ("separator", self.separator),
            ("digit_separator", self.digit_separator),
        ):
            if _RESERVED & set(sep):
                raise ValueError(f"{label} {sep!r} may not contain digits, '.' or '-'")
        if self.digit_separator and self.separator.strip() == self.digit_separator.strip():
            raise ValueError(
                f"separator {self.separator!r} and digit_separator {self.digit_separator!r} are "
                "indistinguishable; use e.g. separator=' , ' with digit_separator=' '"
            )

    def format_value(self, v: float) -> str:
        """One value as text (without digit separators)."""
        s = f"{v:.{self.precision}f}"
        if s.startswith("-") and not s.strip("-0."):
            s = s[1:]  # no negative zero
        if self.drop_decimal_point:
            sign, digits = ("-", s[1:]) if s.startswith("-") else ("", s)
            digits = digits.replace(".", "").lstrip("0") or "0"
            s = sign + digits
        return s

    def encode(self, series: ArrayLike) -> str:
        """Text of a 1-D series; the empty series encodes to ``""``. NaN/inf raise ValueError."""
        x = np.asarray(series, dtype=np.float64)
        if x.ndim != 1:
            raise ValueError(f"encode takes a 1-D series, got shape {x.shape}")
        if x.size == 0:
            return ""
        x = as_series(x, name="series to encode")
        words = [self.format_value(float(v)) for v in x]
        if self.digit_separator:
            words = [self.digit_separator.join(w) for w in words]
        return self.separator.join(words)

    def parse(self, text: str) -> np.ndarray:
        """Every number found in ``text``, in order; non-finite ones (overflow) become NaN.

        Anything that is not a number is ignored (stray tokens, words, brackets, newlines). A
        number cut short (``"0.5"`` for ``"0.512"``) parses as written. Never raises on a str.
        """
        if self.digit_separator:
            ds = re.escape(self.digit_separator)
            text = re.sub(rf"(?<=[0-9.\-]){ds}(?=[0-9.])", "", text)
        out: list[float] = []
        for m in _NUMBER.finditer(text):
            try:
                v = float(m.group())
            except (ValueError, OverflowError):  # pragma: no cover - the regex admits floats only
                v = float("nan")
            if self.drop_decimal_point:
                v = v / 10**self.precision
            out.append(v if np.isfinite(v) else float("nan"))
        return np.asarray(out, dtype=np.float64)

    def decode(
        self, text: str, n_expected: int, *, fill: Literal["nan", "last"] = "nan"
    ) -> tuple[np.ndarray, float]:
        """The first ``n_expected`` values in ``text`` and the fraction of them that parsed.

        Always returns exactly ``n_expected`` values: extra values are dropped; missing ones are
        NaN (``fill="nan"``) or carry the last parsed value forward (``fill="last"``; a leading
        gap takes the first parsed value; all NaN if nothing parsed). ``validity`` = (finite
        values among the first ``n_expected``) / ``n_expected``, in [0, 1]. Never raises on
        arbitrary text.
        """
        if isinstance(n_expected, bool) or not isinstance(n_expected, int | np.integer):
            raise ValueError(f"n_expected must be a positive integer, got {n_expected!r}")
        if n_expected < 1:
            raise ValueError(f"n_expected must be a positive integer, got {n_expected!r}")
        if fill not in ("nan", "last"):
            raise ValueError(f"fill must be 'nan' or 'last', got {fill!r}")
        n = int(n_expected)
        parsed = self.parse(text if isinstance(text, str) else str(text))[:n]
        values = np.full(n, np.nan)
        values[: parsed.size] = parsed
        ok = np.isfinite(values)
        validity = float(ok.sum()) / n
        if fill == "last" and ok.any():
            idx = np.where(ok, np.arange(n), 0)
            np.maximum.accumulate(idx, out=idx)
            first = int(np.argmax(ok))
            filled = values[idx]
            filled[:first] = values[first]
            values = filled
        return values, validity
