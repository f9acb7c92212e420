"""Aggregate result rows into ``summary.csv`` and ``summary.md``: mean and 95% CI per
task / method / budget (columns per task family: language-model, diffusion, maze).

The tables are a pure function of the rows (sorted by cell key first, so file order never matters)
and of the run's configuration (for ordering and the task metric columns): `report` rebuilds them
byte for byte. Success uses a Wilson interval, non-negative and [0, 1] metrics t-intervals on the
log / logit scale (never outside the range), others a Student-t one (`stats.estimate`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mctd_eval.stats import Estimate, estimate
from mctd_eval.tasks import TASKS, task_family

COMMON = (
    "reward",
    "success",
    "nfe",
    "calls",
    "prompt_nfe",
    "reward_nfe",
    "wall_s",
    "ppl",
    "length",
    "n_samples",
    "distinct_1",
    "distinct_2",
    "dissimilarity",
    "nodes",
    "max_depth",
    "mean_branching",
    "exhausted",
)


@dataclass(frozen=True)
class Group:
    task: str
    method: str
    budget: int | None
    n: int
    metrics: dict[str, Estimate]

    @property
    def budget_label(self) -> str:
        return "natural" if self.budget is None else str(self.budget)


# Diffusion tasks: no text metrics; the task's own metrics (mmd, swd, ...) are the columns.
DIFFUSION_COMMON = ("reward", "nfe", "calls", "wall_s", "eval_wall_s", "n_samples")
# Maze tasks: plan success and its cost (mctd_eval.maze).
MAZE_COMMON = (
    "success",
    "wall_s",
    "nfe",
    "calls",
    "expansions",
    "rejected_frac",
    "reach_vs_oracle",
    "first_reach",
    "oracle_steps",
    "eval_wall_s",
)
# Image tasks (digits): the method's cost in NFE, FLOPs as run and time; the task's metrics.
IMAGE_COMMON = ("reward", "nfe", "mflops", "calls", "wall_s", "eval_wall_s", "n_samples")
_COMMON = {
    "lm": COMMON,
    "diffusion": DIFFUSION_COMMON,
    "maze": MAZE_COMMON,
    "image": IMAGE_COMMON,
}


RATES = ("success", "exhausted")  # booleans, aggregated as rates
OFF_BUDGET = 0.10  # a budgeted cell whose mean NFE is further than this from B is flagged


def nfe_cell(e: Estimate, budget: int | None) -> str:
    """The NFE spent, with its relative distance to the budget B when that exceeds 10 %."""
    text = _mean(e)
    if budget is None or math.isnan(e.mean):
        return text
    off = e.mean / budget - 1.0
    return f"{text} ({100 * off:+.0f}%)" if abs(off) > OFF_BUDGET else text


def metric_names(task: str) -> tuple[str, ...]:
    extra = TASKS[task].metric_names if task in TASKS else ()
    common = _COMMON[task_family(task)]
    return common + tuple(m for m in extra if m not in common)


def aggregate(rows: Sequence[dict[str, Any]], config: dict[str, Any]) -> list[Group]:
    """One `Group` per (task, method, budget), in the configuration's order."""
    by: dict[tuple[str, str, int | None], list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["key"]):
        by.setdefault((row["task"], row["method"], row["budget"]), []).append(row)
    tasks = list(config.get("tasks", []))
    methods = list(config.get("methods", []))

    def order(k: tuple[str, str, int | None]) -> tuple[int, str, int, str, int]:
        t, m, b = k
        ti = tasks.index(t) if t in tasks else len(tasks)
        mi = methods.index(m) if m in methods else len(methods)
        return (ti, t, mi, m, -1 if b is None else int(b))

    out = []
    for key in sorted(by, key=order):
        rs = by[key]
        ms = {}
        for name in metric_names(key[0]):
            vals = [r.get(name) for r in rs]
            ms[name] = estimate(name, vals)
        out.append(Group(*key, n=len(rs), metrics=ms))
    return out


def _num(x: float) -> str:
    return "" if math.isnan(x) else f"{x:.6g}"


def to_csv(groups: Sequence[Group]) -> str:
    names: list[str] = []
    for g in groups:
        names += [m for m in g.metrics if m not in names]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "task",
            "method",
            "budget",
            "n",
            *(f"{m}_{s}" for m in names for s in ("mean", "lo", "hi")),
        ]
    )
    for g in groups:
        cells = []
        for m in names:
            e = g.metrics.get(m)
            cells += ["", "", ""] if e is None else [_num(e.mean), _num(e.lo), _num(e.hi)]
        w.writerow([g.task, g.method, g.budget_label, g.n, *cells])
    return buf.getvalue()


def _pm(e: Estimate, digits: int = 3) -> str:
    if math.isnan(e.mean):
        return "-"
    if math.isnan(e.lo):
        return f"{e.mean:.{digits}g}"
    if not e.symmetric:  # a range-respecting interval (stats.estimate): show its ends
        return f"{e.mean:.{digits}g} [{e.lo:.2g}, {e.hi:.2g}]"
    return f"{e.mean:.{digits}g} ± {e.half_width:.2g}"


def _rate(e: Estimate) -> str:
    if math.isnan(e.mean):
        return "-"
    return f"{100 * e.mean:.0f}% [{100 * e.lo:.0f}, {100 * e.hi:.0f}]"


def _mean(e: Estimate, digits: int = 3) -> str:
    return "-" if math.isnan(e.mean) else f"{e.mean:.{digits}g}"


COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("NFE", "nfe", "mean"),
    ("calls", "calls", "mean"),
    ("s/prompt", "wall_s", "mean"),
    ("reward", "reward", "pm"),
    ("success", "success", "rate"),
    ("ppl", "ppl", "mean"),
    ("distinct-2", "distinct_2", "mean"),
    ("dissim.", "dissimilarity", "mean"),
    ("length", "length", "mean"),
    ("nodes", "nodes", "mean"),
    ("depth", "max_depth", "mean"),
    ("branching", "mean_branching", "mean"),
)


DIFFUSION_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("NFE", "nfe", "mean"),
    ("calls", "calls", "mean"),
    ("s/cell", "wall_s", "mean"),
)


MAZE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("success", "success", "rate"),
    ("plan s", "wall_s", "mean"),
    ("NFE", "nfe", "mean"),
    ("calls", "calls", "mean"),
    ("expansions", "expansions", "mean"),
    ("rejected", "rejected_frac", "mean"),
    ("reach/oracle", "reach_vs_oracle", "mean"),
)
IMAGE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("NFE", "nfe", "mean"),
    ("MFLOP", "mflops", "mean"),
    ("calls", "calls", "mean"),
    ("s/cell", "wall_s", "mean"),
)
_COLUMNS = {
    "lm": COLUMNS,
    "diffusion": DIFFUSION_COLUMNS,
    "maze": MAZE_COLUMNS,
    "image": IMAGE_COLUMNS,
}


def _partial(e: Estimate, n: int, key: str) -> str:
    """`` (n=k)`` when a reward rests on fewer rows than the group has (NaN rewards left out)."""
    return f" (n={e.n})" if key in ("reward", "mean_reward", "best_reward") and 0 < e.n < n else ""


def task_table(groups: Sequence[Group], task: str) -> str:
    """The markdown table of one task."""
    family = task_family(task)
    common, columns = _COMMON[family], _COLUMNS[family]
    extra = [m for m in metric_names(task) if m not in common]
    head = ["method", "budget", "n", *(c[0] for c in columns), *extra]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for g in (g for g in groups if g.task == task):
        cells = [g.method, g.budget_label, str(g.n)]
        for _, key, kind in columns:
            e = g.metrics[key]
            if key == "nfe" and family != "maze":  # maze budgets count expansions, not NFE
                cells.append(nfe_cell(e, g.budget) + _partial(e, g.n, key))
                continue
            cell = _pm(e) if kind == "pm" else _rate(e) if kind == "rate" else _mean(e)
            cells.append(cell + _partial(e, g.n, key))
        cells += [_pm(g.metrics[m]) + _partial(g.metrics[m], g.n, m) for m in extra]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _task_params(c: dict[str, Any]) -> str:
    tp = c.get("task_params", {})
    return "; ".join(f"{t}: {json.dumps(tp.get(t), sort_keys=True)}" for t in c["tasks"])


def _maze_preamble(c: dict[str, Any]) -> list[str]:
    return [
        f"planners in `{c.get('model')}`; up to {c.get('prompts')} start/goal task(s) per maze, "
        f"seeds {c.get('seeds')}; task parameters {_task_params(c)}.",
        "",
        "success = the plan, executed open loop, comes within 1.0 of the goal inside the maze's "
        "horizon (Wilson 95% interval); plan s = planning wall time per task; NFE = planner "
        "evaluations per batch element (a guided call counts 2); calls = sequential batched "
        "planner calls; expansions = MCTD expansions (the budget); rejected = share of simulated "
        "plans the value check rejected; reach/oracle = first-reach step / the BFS oracle's "
        "steps, over successful plans. Values are means over tasks and seeds. Budget 'natural': "
        "no budget knob (diffuser, df); best_of_n at budget B matches mctd's NFE at B.",
    ]


def _diffusion_preamble(c: dict[str, Any]) -> list[str]:
    return [
        f"denoiser `{c.get('model')}`; seeds {c.get('seeds')}; task parameters {_task_params(c)}.",
        "",
        "NFE = denoiser evaluations per batch element spent by the method (a guided call "
        "counts 2); s/cell = wall time of the method; mmd (RBF, bandwidth 0.5) and swd "
        "(sliced W2) = distance of the method's samples to exact draws of the tilted target "
        "p(x) exp(lam r(x)) / Z (lower is better); mean_reward = mean reward of the samples; "
        "best_reward = best reward found; coverage = share of the target's modes holding "
        "samples. Values are means over seeds ± the 95% t-interval half-width, or [lo, hi] for "
        "metrics that cannot be negative or leave [0, 1] (t-interval on the log / logit scale); "
        "n = cells per row.",
    ]


def _lm_preamble(c: dict[str, Any]) -> list[str]:
    return [
        f"model `{c.get('model')}` on backend `{c.get('backend')}`; temperature "
        f"{c.get('temperature')}, top-p {c.get('top_p')}; {c.get('prompts')} prompt(s) per task, "
        f"seeds {c.get('seeds')}.",
        "",
        "NFE = model positions processed by the method's generation (proposals, sampling, "
        "rollouts; the budget is spent on these); the reward's own model work (keywords' fluency) "
        "is reported apart as reward_nfe and the prompt's prefill, equal for all methods, as "
        "prompt_nfe (both in summary.csv); "
        "calls = forward calls; s/prompt = wall time of the method per prompt; ppl = perplexity "
        "of the answer's tokens only; distinct-2 and dissim. = diversity across the samples a "
        "method returned for one prompt; success = the task's own criterion. Values are means "
        "over prompts and seeds, ± the 95% t-interval half-width ([lo, hi] on the log / logit "
        "scale for non-negative and [0, 1] metrics); success with a Wilson 95% "
        "interval. Budget 'natural': no budget knob (greedy, beam). NFE is what the method "
        "spent (figures use it on their x axis); a budgeted NFE more than 10% off its budget B "
        "shows the difference, e.g. '174 (+36%)': the last iteration overshot, or the search "
        "stopped below B because its tree was exhausted (the rows' `exhausted`). Draws and "
        "priors use one distribution (the rows' `distribution`): p_theta at the temperature "
        "and top-p above.",
    ]


def _image_preamble(c: dict[str, Any]) -> list[str]:
    return [
        f"models in `{c.get('model')}`; seeds {c.get('seeds')}; task parameters {_task_params(c)}.",
        "",
        "NFE = UNet evaluations per batch element spent by the method (a reward-guided or "
        "classifier-free-guided call counts 2); MFLOP = the UNet's FLOPs as run, in millions "
        "(MoR routing as done; a reward-guided call's backward counted as 2x its forward); "
        "s/cell = wall time of the method. Values are means over seeds ± the 95% t-interval "
        "half-width, or [lo, hi] for metrics that cannot be negative or leave [0, 1]; n = cells "
        "per row.",
    ]


_PREAMBLE = {
    "lm": _lm_preamble,
    "diffusion": _diffusion_preamble,
    "maze": _maze_preamble,
    "image": _image_preamble,
}


def to_markdown(groups: Sequence[Group], config: dict[str, Any], title: str = "") -> str:
    families = {task_family(t) for t in config.get("tasks", [])}
    family = families.pop() if len(families) == 1 else "lm"
    out = [f"# mctd-eval summary{': ' + title if title else ''}", ""]
    out += _PREAMBLE[family](config)
    for task in dict.fromkeys(g.task for g in groups):
        out += ["", f"## {task}", "", task_table(groups, task)]
        note = TASKS[task].table_note if task in TASKS else ""
        out += ["", note] if note else []
    return "\n".join(out) + "\n"
