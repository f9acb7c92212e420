"""The language-model backends apps load by name (``--backend``), found by entry point.

A backend package registers a loader in the entry-point group ``mctd.lm_backends``::

    [project.entry-points."mctd.lm_backends"]
    torch = "mctd_llm_torch.backend:load"

A loader is ``load(model: str, *, threads: int | None, device: str | None, progress: bool)
-> LanguageModel`` and raises a `UserError` for a model it cannot load. ``toy`` is built in:
mctd-tree's numpy trigram model over letters, for smoke tests of a pipeline only. Apps resolve
``--backend`` through `load_lm`, so a new backend needs no change in any app.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable
from typing import Any

from mctd_tree.errors import UserError
from mctd_tree.problems.toy_lm import ToyLM
from mctd_tree.protocols import LanguageModel

GROUP = "mctd.lm_backends"
# Backends of this project, with the package that registers each (named when it is missing).
KNOWN = {"torch": "mctd-llm-torch", "mlx": "mctd-llm-mlx", "mor": "mctd-mor"}
Loader = Callable[..., LanguageModel]


class UnknownBackendError(UserError, ValueError):
    """A backend name no installed package registers."""


class MissingBackendError(UserError, RuntimeError):
    """A backend of this project whose package is not installed."""


class TextToyLM(ToyLM):
    """`ToyLM` whose ``encode`` maps every character (digits too) to a letter token, so no prompt
    is empty."""

    def encode(self, text: str) -> list[int]:
        v = self.vocab_size
        ids = [ord(c) - 96 if "a" <= c <= "z" else ord(c) % (v - 1) + 1 for c in text.lower()]
        return [i for i, c in zip(ids, text, strict=True) if 0 < i < v and not c.isspace()]


def load_toy(
    model: str = "default", *, threads: int | None = None, device: str | None = None, **_: Any
) -> LanguageModel:
    """The built-in ``toy`` backend (one model, ``default``)."""
    if model not in ("default", "toy"):
        raise UserError(f"the toy backend has one model, 'default'; got {model!r}")
    if device is not None:
        raise UserError(f"the toy backend runs in numpy; it takes no device (got {device!r})")
    return TextToyLM(27, seed=0, max_context=4096)


def _registered() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=GROUP)}


def backend_names() -> tuple[str, ...]:
    """Every backend name: this project's (installed or not), other registered ones, ``toy``."""
    others = sorted(set(_registered()) - set(KNOWN) - {"toy"})
    return (*KNOWN, *others, "toy")


def get_loader(backend: str) -> Loader:
    """The loader of ``backend``; clear errors for an unknown or a missing one."""
    if backend == "toy":
        return load_toy
    ep = _registered().get(backend)
    if ep is None:
        if backend in KNOWN:
            pkg = KNOWN[backend]
            raise MissingBackendError(
                f"the {backend} backend needs the package {pkg}, which is not installed: "
                f"install the app's '{backend}' extra (e.g. `uv sync --package <app> --extra "
                f"{backend}`) or `pip install {pkg}`"
            )
        raise UnknownBackendError(
            f"unknown backend {backend!r}; valid backends: {', '.join(backend_names())}"
        )
    loader: Loader = ep.load()
    return loader


def load_lm(
    backend: str,
    model: str = "default",
    *,
    threads: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> LanguageModel:
    """A `LanguageModel` of ``backend`` for ``model`` ("default", a Hub id, a local folder...)."""
    return get_loader(backend)(model, threads=threads, device=device, progress=progress)
