"""mctd-llm-mlx: the mctd `LanguageModel` protocol on Apple MLX, with tree-aware KV reuse."""

from mctd_llm_mlx.loading import DEFAULT_MODEL, ModelNotFoundError, offline_mode
from mctd_llm_mlx.model import DEFAULT_MAX_CACHE_POSITIONS, MLXLM
from mctd_llm_mlx.prefix_cache import CacheStats, PrefixCache

__version__ = "0.1.0"


def load(model: str = DEFAULT_MODEL, **kwargs: object) -> MLXLM:
    """An `MLXLM` for ``model`` ("default", a Hub id, a folder or a .gguf file)."""
    return MLXLM(model, **kwargs)  # type: ignore[arg-type]


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
