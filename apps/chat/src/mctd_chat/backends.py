"""Load the language model the chat talks to: ``torch`` (default) or ``mlx`` (optional extra).

``model`` is ``"default"`` (the embedded SmolLM2-135M-Instruct), a Hugging Face id, a local folder
or a ``.gguf`` file. ``thought:DIR`` names a masked-diffusion thought model (mctd-thought), which
the chat does not serve (its engine decodes left to right; the dLM is searched by ``mctd-eval
--backend thought``): it is refused with a message saying so rather than served by a stand-in.
"""

from __future__ import annotations

import importlib
from typing import Any

from mctd_tree.protocols import LanguageModel

from mctd_chat.errors import ModelError

BACKENDS = ("torch", "mlx")
THOUGHT_PREFIX = "thought:"


def load_lm(
    model: str = "default",
    *,
    backend: str = "torch",
    threads: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> LanguageModel:
    """A `LanguageModel` for ``model`` on ``backend``; clear errors for what cannot work."""
    if model.startswith(THOUGHT_PREFIX):
        raise ModelError(
            f"--model {model}: mctd-chat does not serve thought models (mctd-thought masked-"
            "diffusion LMs; search one with `mctd-eval run --backend thought --model DIR`); use "
            "'default', a Hugging Face id or a local model folder"
        )
    if backend == "torch":
        torch = importlib.import_module("torch")
        if threads:
            torch.set_num_threads(int(threads))
        from mctd_llm_torch import TorchLM

        return TorchLM(model, device=device, progress=progress)
    if backend == "mlx":
        try:
            mlx_backend: Any = importlib.import_module("mctd_llm_mlx")
        except ImportError as err:
            raise ModelError(
                "the mlx backend needs the 'mlx' extra of mctd-chat: "
                "`uv sync --package mctd-chat --extra mlx` (or `pip install 'mctd-chat[mlx]'`)"
            ) from err
        return mlx_backend.MLXLM(model, progress=progress)
    raise ModelError(f"unknown backend {backend!r}; valid backends: {', '.join(BACKENDS)}")
