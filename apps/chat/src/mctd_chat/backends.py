"""Load the language model the chat talks to, by backend name: every backend registered in the
``mctd.lm_backends`` entry-point group (`mctd_tree.lm.backends`): ``torch`` (default), ``mlx``
(optional extra), ``mor`` (a ``mctd-train mor`` run: ``--model DIR``) and ``toy``.

``model`` is ``"default"`` (the embedded SmolLM2-135M-Instruct), a Hugging Face id, a local folder
or a ``.gguf`` file. ``thought:DIR`` names a masked-diffusion thought model (mctd-thought), which
the chat does not serve (its engine decodes left to right; the dLM is searched by ``mctd-eval
--backend thought``): it is refused with a message saying so rather than served by a stand-in.
"""

from __future__ import annotations

from mctd_tree.errors import UserError
from mctd_tree.lm.backends import backend_names
from mctd_tree.lm.backends import load_lm as _load
from mctd_tree.protocols import LanguageModel

from mctd_chat.errors import ModelError

BACKENDS = backend_names()
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
    try:
        return _load(backend, model, threads=threads, device=device, progress=progress)
    except ModelError:
        raise
    except UserError as err:  # unknown or missing backend, a model folder it cannot load
        raise ModelError(str(err)) from err
