"""Method parameters checked before anything is written, not when the first cell runs.

Two checks: each value has its default's type (a number for a number, finite; a string for a
string; ``None`` defaults take anything); and a language-model method is run once on a tiny exact
tree (`mctd_tree.problems.toy.random_tree`, one NFE of budget), so that the search's own argument
checks (``k >= 1``, ``parallel >= 1``, ``selection in (uct, puct)``, ...) fire now.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from mctd_tree import Budget
from mctd_tree.errors import UserError
from mctd_tree.problems.toy import random_tree

from mctd_eval.methods import Method


def check_value(where: str, default: Any, value: Any) -> None:
    """`UserError` naming ``where`` and ``value`` when it does not fit ``default``'s type."""
    if default is None:
        if isinstance(value, float) and not math.isfinite(value):
            raise UserError(f"{where} must be finite, got {value!r}")
        return
    if isinstance(default, bool):
        ok = isinstance(value, bool)
        kind = "true or false"
    elif isinstance(default, int | float):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and math.isfinite(value) and (isinstance(value, int) or isinstance(default, float))
        kind = "an integer" if isinstance(default, int) else "a finite number"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    else:
        ok, kind = isinstance(value, type(default)), type(default).__name__
    if not ok:
        raise UserError(f"{where} must be {kind}, got {value!r}")


def check_method(method: Method, family: str, params: dict[str, Any]) -> None:
    """Check resolved ``params`` of ``method`` (see the module docstring)."""
    for key, value in params.items():
        check_value(f"{method.name}.{key}", method.defaults.get(key), value)
    if family != "lm":
        return
    problem = random_tree(branching=2, depth=2, seed=0)
    budget = Budget(nfe=1) if method.budgeted else None
    try:
        method.run(problem, budget, params, np.random.default_rng(0))
    except (ValueError, TypeError) as err:
        raise UserError(f"method {method.name!r}: {err}") from None
