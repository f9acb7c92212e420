"""The ``torch`` entry point of ``mctd.lm_backends`` (see `mctd_tree.lm.backends`)."""

from __future__ import annotations

import torch

from mctd_llm_torch.model import TorchLM


def load(
    model: str = "default",
    *,
    threads: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TorchLM:
    """A `TorchLM` of ``model`` ("default", a Hub id, a local folder or a ``.gguf`` file)."""
    if threads:
        torch.set_num_threads(int(threads))
    return TorchLM(model, device=device, progress=progress)
