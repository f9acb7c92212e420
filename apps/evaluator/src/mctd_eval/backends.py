"""Language-model backends: ``torch`` (default), ``mlx`` (optional extra), ``toy`` and
``thought`` (a masked-diffusion LM run of ``mctd-train thought``, see ``mctd_eval.dlm``).

``toy`` is mctd-tree's numpy trigram model over letters: no weights, instant, for smoke tests of
the pipeline only (its text is letters, so forecast and arith never succeed on it).

`clear_cache` empties a model's prefix cache; the runner calls it before every cell so that each
cell pays for its own prompt and no cell's NFE depends on which cells ran before it on the same
worker (that is what makes local and Ray runs give the same rows).
"""

from __future__ import annotations

import importlib
from typing import Any

from mctd_tree.errors import UserError
from mctd_tree.problems.toy_lm import ToyLM
from mctd_tree.protocols import LanguageModel

BACKENDS = ("torch", "mlx", "toy", "thought")


class MissingBackendError(UserError, RuntimeError):
    """A backend whose optional dependencies are not installed."""


class CachedToyLM(ToyLM):
    """`ToyLM` with an ``encode`` that maps every character (digits too) to a letter token, so no
    prompt is empty."""

    def encode(self, text: str) -> list[int]:
        v = self.vocab_size
        ids = [ord(c) - 96 if "a" <= c <= "z" else ord(c) % (v - 1) + 1 for c in text.lower()]
        return [i for i, c in zip(ids, text, strict=True) if 0 < i < v and not c.isspace()]


def load_lm(
    backend: str, model: str = "default", *, threads: int | None = None, progress: bool = True
) -> LanguageModel:
    """A `LanguageModel` for ``backend`` and ``model`` ("default", a Hub id or a local path)."""
    if backend == "toy":
        if model not in ("default", "toy"):
            raise ValueError(f"the toy backend has one model, 'default'; got {model!r}")
        return CachedToyLM(27, seed=0, max_context=4096)
    if backend == "thought":  # a masked-diffusion LM of mctd-thought (mctd_eval.dlm)
        from mctd_eval.dlm import load_thought_lm

        return load_thought_lm(model)  # type: ignore[return-value]
    if backend == "torch":
        torch = importlib.import_module("torch")
        if threads:
            torch.set_num_threads(int(threads))
        from mctd_llm_torch import TorchLM

        return TorchLM(model, progress=progress)
    if backend == "mlx":
        try:
            mlx_backend: Any = importlib.import_module("mctd_llm_mlx")
        except ImportError as err:
            raise MissingBackendError(
                "the mlx backend needs the 'mlx' extra of mctd-evaluator: "
                "`uv sync --package mctd-evaluator --extra mlx` "
                "(or `pip install 'mctd-evaluator[mlx]'`)"
            ) from err
        return mlx_backend.MLXLM(model)
    raise ValueError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")


def clear_cache(lm: Any) -> None:
    """Empty the model's prefix cache if it has one."""
    fn = getattr(lm, "clear_cache", None)
    if callable(fn):
        fn()
