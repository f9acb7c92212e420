"""The resolved configuration of a run, its presets, and the cells it expands into.

A run is tasks x prompts x methods x budgets x seeds. Budgeted methods run once per budget;
greedy and beam (no budget knob; diffuser and df on maze tasks) once per prompt with
``budget = None`` ("natural"). Deterministic methods (greedy, beam) run for the first seed only.
A task with a fixed set of instances (``instance_cap``: gmm2d 1, the mazes 5, a prompts file its
rows) caps ``prompts``; a task's model-free reference methods (forecast's naive baselines) add one
cell per prompt.

`RunConfig.identity()` is what a run directory must match to be resumed: everything that changes
results. Execution settings (executor, workers, threads) are kept apart in `Runtime`.
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from mctd_tree.errors import UserError

from mctd_eval.backends import BACKENDS
from mctd_eval.methods import FAMILIES, METHODS, all_method_names, get_method
from mctd_eval.tasks import BROKEN, TASKS, get_task, task_family

DETERMINISTIC = ("greedy", "beam")
SAMPLING_KEYS = ("temperature", "top_p", "chunk")


@dataclass(frozen=True)
class Cell:
    """One unit of work: a method on one prompt of a task, at one budget, with one seed."""

    task: str
    prompt: int
    method: str
    budget: int | None
    seed: int

    @property
    def key(self) -> str:
        b = "natural" if self.budget is None else str(self.budget)
        return f"{self.task}|p{self.prompt}|{self.method}|{b}|s{self.seed}"

    def rng(self) -> np.random.Generator:
        """The cell's own generator: depends on the seed and the cell, not on the run order."""
        return np.random.default_rng([self.seed, zlib.crc32(self.key.encode())])


@dataclass
class RunConfig:
    tasks: list[str]
    methods: list[str]
    budgets: list[int]
    prompts: int = 4
    seeds: list[int] = field(default_factory=lambda: [0])
    backend: str = "torch"
    model: str = "default"
    temperature: float = 0.8
    top_p: float = 0.95
    chunk: int = 1
    task_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    method_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    name: str = "run"

    def resolved(self) -> RunConfig:
        """Validated copy with every task and method parameter filled in (clear errors)."""
        for t in self.tasks:  # a plug-in that failed to load says why
            if t in BROKEN:
                raise ValueError(BROKEN[t])
        tasks = _names(self.tasks, TASKS, "task")
        family = run_family(tasks)
        registry = FAMILIES[family]
        methods = _task_methods(self.methods, tasks, family) if self.methods else list(registry)
        budgets = [_positive_int(b, "budget") for b in self.budgets]
        if family != "lm" and self.backend != "torch":
            raise ValueError(
                f"{family} tasks ({', '.join(tasks)}) run their {_MODEL_KIND[family]} with torch; "
                f"--backend {self.backend} does not apply (leave it at torch)"
            )
        if any(registry[m].budgeted for m in methods) and not budgets:
            raise ValueError(f"budgeted methods need at least one {_BUDGET[family]} (--budgets)")
        seeds = [int(s) for s in self.seeds]
        if not seeds:
            raise ValueError("give at least one seed")
        if self.backend not in BACKENDS:
            raise ValueError(
                f"unknown backend {self.backend!r}; valid backends: {', '.join(BACKENDS)}"
            )
        if not (_is_number(self.temperature) and self.temperature >= 0):
            raise UserError(f"temperature must be a finite number >= 0, got {self.temperature!r}")
        if not (_is_number(self.top_p) and 0 < self.top_p <= 1):
            raise UserError(f"top_p must be a number in (0, 1], got {self.top_p!r}")
        for key in set(self.task_params) - set(tasks):
            raise ValueError(f"parameters given for task {key!r}, which is not in this run")
        for key in set(self.method_params) - set(methods):
            raise ValueError(f"parameters given for method {key!r}, which is not in this run")
        return RunConfig(
            tasks=tasks,
            methods=methods,
            budgets=sorted(set(budgets)),
            prompts=_positive_int(self.prompts, "prompts"),
            seeds=list(dict.fromkeys(seeds)),
            backend=self.backend,
            model=str(self.model),
            temperature=float(self.temperature),
            top_p=float(self.top_p),
            chunk=_positive_int(self.chunk, "chunk"),
            task_params={t: get_task(t, self.task_params.get(t)).params() for t in tasks},
            method_params={
                m: _method_params(m, family, self.method_params.get(m)) for m in methods
            },
            name=self.name,
        )

    def identity(self) -> dict[str, Any]:
        """Everything that changes results (not the cosmetic name)."""
        d = asdict(self)
        d.pop("name")
        return json.loads(json.dumps(d))

    @property
    def family(self) -> str:
        """ "lm", "diffusion" or "maze": the family of the run's tasks (a run holds one)."""
        return run_family(self.tasks)

    def cells(self) -> list[Cell]:
        out = []
        registry = FAMILIES[self.family]
        for task in self.tasks:
            built = get_task(task, self.task_params.get(task))
            cap = built.instance_cap()
            prompts = self.prompts if cap is None else min(self.prompts, cap)
            for prompt in range(prompts):
                for method in self.methods:
                    budgets = self.budgets if registry[method].budgeted else [None]
                    seeds = self.seeds[:1] if method in DETERMINISTIC else self.seeds
                    out += [Cell(task, prompt, method, b, s) for b in budgets for s in seeds]
                # model-free reference rows (forecast baselines): once per prompt, NFE 0
                out += [Cell(task, prompt, m, None, self.seeds[0]) for m in built.references()]
        return out

    @classmethod
    def from_identity(cls, d: dict[str, Any], name: str = "run") -> RunConfig:
        return cls(**d, name=name)


@dataclass
class Runtime:
    """How a run executes; free to change between a run and its resume."""

    executor: str = "local"
    address: str | None = None
    workers: int = 2
    threads: int | None = 1
    save_trees: bool = False  # rows carry tree viewers / plan figures (mctd_eval.trees)


def _names(given: list[str], valid: dict[str, Any], what: str) -> list[str]:
    if not given:
        raise ValueError(f"give at least one {what}; valid {what}s: {', '.join(valid)}")
    for n in given:
        if n not in valid:
            raise ValueError(f"unknown {what} {n!r}; valid {what}s: {', '.join(valid)}")
    return list(dict.fromkeys(given))


_FAMILY_NAME = {"lm": "language-model", "diffusion": "diffusion", "maze": "maze", "image": "image"}
_MODEL_KIND = {
    "lm": "language model",
    "diffusion": "denoiser",
    "maze": "planners",
    "image": "VAE, UNet and classifier",
}
_BUDGET = {
    "lm": "NFE budget",
    "diffusion": "NFE budget",
    "maze": "budget (MCTD expansions)",
    "image": "NFE budget",
}


def run_family(tasks: list[str]) -> str:
    """The one method family of ``tasks``; mixing families (language-model, diffusion, maze) is
    refused."""
    fams = {t: task_family(t) for t in tasks}
    kinds = list(dict.fromkeys(fams.values()))
    if len(kinds) > 1:
        parts = [
            f"{_FAMILY_NAME[k]}: {', '.join(t for t, f in fams.items() if f == k)}" for k in kinds
        ]
        raise ValueError(
            f"the tasks mix families ({'; '.join(parts)}); they take different methods and "
            "models: run them separately"
        )
    return kinds[0] if kinds else "lm"


def task_methods(task: str) -> list[str]:
    """The methods that ``task`` accepts."""
    return list(FAMILIES[task_family(task)])


def _task_methods(given: list[str], tasks: list[str], family: str) -> list[str]:
    registry = FAMILIES[family]
    for n in given:
        if n in registry:
            continue
        valid = ", ".join(registry)
        on = ", ".join(tasks)
        if n in all_method_names():
            raise ValueError(
                f"method {n!r} does not apply to task(s) {on}; valid methods for {on}: {valid}"
            )
        raise ValueError(f"unknown method {n!r}; valid methods for task(s) {on}: {valid}")
    return list(dict.fromkeys(given))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _method_params(name: str, family: str, given: dict[str, Any] | None) -> dict[str, Any]:
    from mctd_eval.validate import check_method

    method = get_method(name, family)
    params = method.resolve(given)
    check_method(method, family, params)
    return params


def _positive_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
        raise ValueError(f"{what} must be an integer >= 1, got {v!r}")
    return int(v)


def apply_overrides(cfg: RunConfig, items: list[str]) -> RunConfig:
    """Apply ``key=value`` overrides: ``temperature``/``top_p``/``chunk``, ``<task>.<param>`` or
    ``<method>.<param>``. Values are JSON (``0.5``, ``[1, 2]``, ``"uct"``); a bare word is a
    string and a comma-separated bare list a list of strings."""
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set takes key=value, got {item!r}")
        value = _parse_value(raw)
        scope, dot, param = key.partition(".")
        if not dot:
            if key not in SAMPLING_KEYS:
                raise ValueError(
                    f"unknown setting {key!r}; use one of {', '.join(SAMPLING_KEYS)}, "
                    "<task>.<param> or <method>.<param>"
                )
            setattr(cfg, key, value)
        elif scope in TASKS:
            cfg.task_params.setdefault(scope, {})[param] = value
        elif scope in all_method_names():
            cfg.method_params.setdefault(scope, {})[param] = value
        else:
            raise ValueError(
                f"unknown scope {scope!r} in --set {item!r}; valid: tasks "
                f"{', '.join(TASKS)}; methods {', '.join(all_method_names())}"
            )
    return cfg


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return [s.strip() for s in raw.split(",")] if "," in raw else raw


PRESETS: dict[str, dict[str, Any]] = {
    "quick": {
        "tasks": ["forecast", "arith"],
        "methods": list(METHODS),
        "budgets": [128],
        "prompts": 1,
        "seeds": [0],
    },
    "standard": {
        "tasks": ["forecast", "arith", "keywords"],
        "methods": list(METHODS),
        "budgets": [128, 256, 512, 1024],
        "prompts": 8,
        "seeds": [0, 1],
    },
    "gmm2d": {
        "tasks": ["gmm2d"],
        "methods": list(FAMILIES["diffusion"]),
        "budgets": [500, 1000, 2000],
        "prompts": 1,
        "seeds": [0, 1, 2],
    },
    "digits": {
        "tasks": ["digits"],
        "methods": list(FAMILIES["image"]),
        "budgets": [200, 800, 3200],
        "prompts": 1,
        "seeds": [0, 1, 2],
    },
    "maze": {
        "tasks": ["maze-medium"],
        "methods": list(FAMILIES["maze"]),
        "budgets": [50],
        "prompts": 5,
        "seeds": [0, 1],
    },
}


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return json.loads(json.dumps(PRESETS[name]))
