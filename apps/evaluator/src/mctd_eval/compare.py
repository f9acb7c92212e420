"""``compare``: two runs side by side on the (task, method, budget) groups they share."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mctd_eval.execute import load_groups
from mctd_eval.summary import Group

SHOWN = (("reward", "reward"), ("success", "success"), ("nfe", "NFE"), ("wall_s", "s/prompt"))


def _f(x: float) -> str:
    return "-" if math.isnan(x) else f"{x:.3g}"


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``method_params.dts.lam``)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def compare(run_a: Path, run_b: Path) -> str:
    """A markdown report: configuration differences, then A, B and B - A per shared group."""
    ca, ga, _ = load_groups(run_a)
    cb, gb, _ = load_groups(run_b)
    da, db = _flat(ca["config"]), _flat(cb["config"])
    lines = [f"# compare A={run_a} B={run_b}", ""]
    diff = sorted(k for k in set(da) | set(db) if da.get(k) != db.get(k))
    if diff:
        lines.append("configuration differences:")
        lines += [f"- {k}: A={da.get(k)!r} B={db.get(k)!r}" for k in diff]
    else:
        lines.append("same configuration")
    index_b: dict[tuple[str, str, int | None], Group] = {
        (g.task, g.method, g.budget): g for g in gb
    }
    shared = [
        (g, index_b[(g.task, g.method, g.budget)])
        for g in ga
        if (g.task, g.method, g.budget) in index_b
    ]
    head = ["task", "method", "budget"]
    for _, label in SHOWN:
        head += [f"{label} A", f"{label} B", f"Δ {label}"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a, b in shared:
        cells = [a.task, a.method, a.budget_label]
        for key, _ in SHOWN:
            x, y = a.metrics[key].mean, b.metrics[key].mean
            cells += [_f(x), _f(y), _f(y - x)]
        lines.append("| " + " | ".join(cells) + " |")
    only_a = len(ga) - len(shared)
    only_b = len(gb) - len(shared)
    lines += ["", f"{len(shared)} shared groups; {only_a} only in A, {only_b} only in B"]
    return "\n".join(lines) + "\n"
