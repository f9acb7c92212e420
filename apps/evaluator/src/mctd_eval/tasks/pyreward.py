"""``python:MODULE:FUNCTION`` rewards: the user's own function, imported by module name or from a
``.py`` path, called as ``FUNCTION(completion, **named)`` with exactly the names it asks for among
``prompt``, ``answer`` and ``meta`` (so it sees the answer only if it names ``answer``)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mctd_eval.tasks.rewards import Context, RewardSpecError, Scorer, origin

_PY_NAMES = ("prompt", "answer", "meta")


class PythonScorer(Scorer):
    def __init__(self, spec: str, module: str, function: str) -> None:
        self.spec, self.module = spec, module
        fn = getattr(_import(spec, module), function, None)
        if not callable(fn):
            raise RewardSpecError(f"reward {spec!r}: {module} has no function {function!r}")
        self.fn: Callable[..., Any] = fn
        self.names = _wanted(spec, fn)
        self.sees_answer = "answer" in self.names

    def score(self, texts: Sequence[str], ctx: Context) -> list[Any]:
        given = {"prompt": ctx.row.prompt, "answer": ctx.answer, "meta": dict(ctx.row.meta)}
        kw = {n: given[n] for n in self.names}
        return [self.fn(t, **kw) for t in texts]


def _import(spec: str, module: str) -> Any:
    """The module ``module`` (a dotted name, or a path to a ``.py`` file)."""
    try:
        if module.endswith(".py") or "/" in module:
            path = Path(module).expanduser().resolve()
            if not path.is_file():
                raise RewardSpecError(f"reward {spec!r}: {module} does not exist")
            name = "mctd_reward_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
            loader = importlib.util.spec_from_file_location(name, path)
            assert loader is not None and loader.loader is not None
            mod = importlib.util.module_from_spec(loader)
            sys.modules[name] = mod
            try:
                loader.loader.exec_module(mod)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return mod
        return importlib.import_module(module)
    except RewardSpecError:
        raise
    except Exception as err:
        raise RewardSpecError(
            f"reward {spec!r}: cannot import {module} ({origin(err)}{type(err).__name__}: {err})"
        ) from None


def _wanted(spec: str, fn: Callable[..., Any]) -> tuple[str, ...]:
    """The optional names (prompt, answer, meta) ``fn`` takes after the completion."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return ()
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    if not params or params[0].kind not in positional:
        raise RewardSpecError(f"reward {spec!r}: the function must take the completion first")
    names = []
    for p in params[1:]:
        if p.name in _PY_NAMES:
            names.append(p.name)
        elif p.default is inspect.Parameter.empty and p.kind not in (
            inspect.Parameter.VAR_POSITIONAL,
            inspect.Parameter.VAR_KEYWORD,
        ):
            raise RewardSpecError(
                f"reward {spec!r}: parameter {p.name!r} is not one of completion, "
                f"{', '.join(_PY_NAMES)} and has no default"
            )
    return tuple(names)
