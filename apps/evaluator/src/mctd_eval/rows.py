"""Which rows of ``results.jsonl`` a summary may aggregate: only rows that are cells of the run's
own configuration, with the fields their key says and numbers where numbers belong. Every row
left out is counted, with the reason, so a table's n is never silently wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from mctd_eval.config import Cell, RunConfig
from mctd_eval.rundir import ForeignRunError
from mctd_eval.summary import metric_names

_FIELDS = ("task", "prompt", "method", "budget", "seed")


def config_cells(config: dict[str, Any]) -> dict[str, Cell]:
    """The cells of a saved configuration, by key (`ForeignRunError` if it cannot be read)."""
    try:
        return {c.key: c for c in RunConfig.from_identity(config).cells()}
    except (TypeError, ValueError, KeyError, AttributeError) as err:
        raise ForeignRunError(f"the saved configuration cannot be read ({err})") from None


def why_not(row: dict[str, Any], cells: dict[str, Cell]) -> str | None:
    """Why ``row`` may not be aggregated (None if it may)."""
    cell = cells.get(row.get("key"))  # type: ignore[arg-type]
    if cell is None:
        return "its key is not a cell of this run's configuration"
    for name in _FIELDS:
        if name not in row:
            return f"it has no {name!r}"
        if row[name] != getattr(cell, name):
            return f"its {name!r} ({row[name]!r}) disagrees with its key"
    for name in metric_names(cell.task):
        v = row.get(name)
        if v is not None and (isinstance(v, str) or not isinstance(v, int | float)):
            return f"its {name!r} is {v!r}, not a number"
    return None


def select(
    rows: Sequence[dict[str, Any]], config: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[str]]:
    """(rows that belong to ``config``, one line per reason rows were ignored or are partial)."""
    cells = config_cells(config)
    kept: list[dict[str, Any]] = []
    ignored: dict[str, list[str]] = {}
    for row in rows:
        why = why_not(row, cells)
        if why is None:
            kept.append(row)
        else:
            ignored.setdefault(why, []).append(str(row.get("key")))
    notes = [f"{len(keys)} row(s) ignored: {why} (e.g. {keys[0]})" for why, keys in ignored.items()]
    no_reward = [
        r["key"]
        for r in kept
        if "reward" in metric_names(r["task"]) and not _finite(r.get("reward"))
    ]
    if no_reward:
        notes.append(
            f"{len(no_reward)} of {len(kept)} row(s) have no finite reward (NaN or missing, e.g. "
            f"{no_reward[0]}): the reward columns average the other rows, and say n=<count>"
        )
    return kept, notes


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
