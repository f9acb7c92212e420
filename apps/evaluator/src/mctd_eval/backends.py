"""Language-model backends, by name: every backend registered in the ``mctd.lm_backends``
entry-point group (`mctd_tree.lm.backends`): ``torch`` (default), ``mlx`` (optional extra),
``mor`` (a ``mctd-train mor`` run: ``--model DIR``), ``thought`` (a masked-diffusion LM run of
``mctd-train thought``, registered by this app: `mctd_eval.dlm`) and the built-in ``toy``.

``toy`` is mctd-tree's numpy trigram model over letters: no weights, instant, for smoke tests of
the pipeline only (its text is letters, so forecast and arith never succeed on it).

`clear_cache` empties a model's prefix cache; the runner calls it before every cell so that each
cell pays for its own prompt and no cell's NFE depends on which cells ran before it on the same
worker (that is what makes local and Ray runs give the same rows). `flops_total` reads the FLOPs
a backend counts (``mor``), None for backends that count none.
"""

from __future__ import annotations

from typing import Any

from mctd_tree.lm.backends import MissingBackendError, backend_names
from mctd_tree.lm.backends import load_lm as _load
from mctd_tree.protocols import LanguageModel

BACKENDS = backend_names()

__all__ = ["BACKENDS", "MissingBackendError", "clear_cache", "flops_total", "load_lm"]


def load_lm(
    backend: str, model: str = "default", *, threads: int | None = None, progress: bool = True
) -> LanguageModel:
    """A `LanguageModel` for ``backend`` and ``model`` ("default", a Hub id or a local path)."""
    return _load(backend, model, threads=threads, progress=progress)


def clear_cache(lm: Any) -> None:
    """Empty the model's prefix cache if it has one."""
    fn = getattr(lm, "clear_cache", None)
    if callable(fn):
        fn()


def flops_total(lm: Any) -> int | None:
    """The FLOPs ``lm`` has counted so far (a ``flops`` counter with a ``total``), else None."""
    total = getattr(getattr(lm, "flops", None), "total", None)
    return int(total) if total is not None else None
