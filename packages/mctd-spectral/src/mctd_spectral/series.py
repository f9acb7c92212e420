"""`Series`: a named real series with its sampling interval and season; `SeriesError`."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from mctd_tree.errors import UserError


class SeriesError(UserError):
    """A series that cannot be loaded: unknown name, bad spec, missing column, non-numeric data."""


@dataclass(frozen=True)
class Series:
    """A named real series.

    ``freq``: sampling interval ("annual", "quarterly", "monthly", "weekly"). ``period``: the
    seasonal period m used by MASE's seasonal-naive scale (1 = none). ``start``: label of the first
    observation.
    """

    name: str
    values: np.ndarray
    freq: str
    period: int
    start: str
    description: str

    def __len__(self) -> int:
        return int(self.values.size)


def statsmodels_datasets() -> ModuleType:
    try:
        return importlib.import_module("statsmodels.datasets")
    except ImportError as exc:
        raise ImportError(
            "mctd_spectral.datasets needs statsmodels, which is an optional dependency: install "
            "the 'data' extra, e.g. `pip install 'mctd-spectral[data]'` or "
            "`uv sync --package mctd-spectral --extra data`"
        ) from exc
