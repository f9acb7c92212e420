"""mctd-eval: search methods x tasks x NFE budgets, measured honestly.

``mctd_eval.evaluate(model_or_lm, prompts, reward, methods=..., budgets=..., seeds=...)`` is the
Python API (`mctd_eval.api`); ``mctd-eval`` the command line. Both run the same code.
"""

from __future__ import annotations

from importlib.metadata import version as _version
from typing import Any

__version__ = _version("mctd-evaluator")
__all__ = ["Evaluation", "__version__", "evaluate"]


def __getattr__(name: str) -> Any:
    """``evaluate`` and ``Evaluation``, imported on first use (``--version`` stays fast)."""
    if name in ("evaluate", "Evaluation"):
        from mctd_eval import api

        return getattr(api, name)
    raise AttributeError(f"module 'mctd_eval' has no attribute {name!r}")
