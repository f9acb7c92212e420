"""The ``mlx`` entry point of ``mctd.lm_backends`` (see `mctd_tree.lm.backends`)."""

from __future__ import annotations

import mctd_llm_mlx
from mctd_llm_mlx.model import MLXLM


def load(
    model: str = "default",
    *,
    threads: int | None = None,
    device: str | None = None,
    progress: bool = True,
) -> MLXLM:
    """An `MLXLM` of ``model`` on ``device`` (`mctd_llm_mlx.load`); MLX sizes its own threads."""
    del threads
    return mctd_llm_mlx.load(model, device=device, progress=progress)
