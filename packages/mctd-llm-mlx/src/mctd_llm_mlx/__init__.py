"""mctd-llm-mlx: the mctd `LanguageModel` protocol on Apple MLX, with tree-aware KV reuse."""

from importlib.metadata import version as _version
from typing import Any

from mctd_tree.lm import CacheStats, PrefixCache

from mctd_llm_mlx.loading import DEFAULT_MODEL, ModelNotFoundError, offline_mode
from mctd_llm_mlx.model import DEFAULT_MAX_CACHE_POSITIONS, MLXLM

__version__ = _version("mctd-llm-mlx")


def load(model: str = DEFAULT_MODEL, *, device: str | None = None, **kwargs: Any) -> MLXLM:
    """An `MLXLM` for ``model`` ("default", a Hub id, a folder or a .gguf file).

    The hook for scripts that pick a backend by name (e.g. ``--backend mlx``); ``device`` takes
    the torch spellings: ``"cpu"`` runs MLX on the CPU, ``"gpu"``/``"cuda"``/``"mps"`` on MLX's
    GPU (Metal, or CUDA with the ``cuda`` extra), None/``"auto"`` keeps MLX's default. This sets
    MLX's process-wide default device.
    """
    import mlx.core as mx

    if device not in (None, "auto"):
        kinds = {"cpu": mx.cpu, "gpu": mx.gpu, "cuda": mx.gpu, "mps": mx.gpu}
        if str(device) not in kinds:
            raise ValueError(f"unknown device {device!r}; use one of {sorted(kinds)} or None")
        mx.set_default_device(mx.Device(kinds[str(device)]))
    return MLXLM(model, **kwargs)


__all__ = [
    "DEFAULT_MAX_CACHE_POSITIONS",
    "DEFAULT_MODEL",
    "MLXLM",
    "CacheStats",
    "ModelNotFoundError",
    "PrefixCache",
    "__version__",
    "load",
    "offline_mode",
]
