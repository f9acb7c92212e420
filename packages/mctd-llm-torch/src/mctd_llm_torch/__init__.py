"""mctd-llm-torch: the mctd `LanguageModel` protocol on PyTorch + transformers, with tree-aware KV
reuse (a radix-tree prefix cache), and the embedded default model SmolLM2-135M-Instruct."""

from importlib.metadata import version as _version

from mctd_tree.lm import CacheStats, PrefixCache

from mctd_llm_torch.loading import (
    ModelNotFoundError,
    cache_root,
    default_gguf_path,
    ensure_default_model,
)
from mctd_llm_torch.model import DEFAULT_MAX_CACHE_POSITIONS, TorchLM, pick_device, pick_dtype

__version__ = _version("mctd-llm-torch")

__all__ = [
    "DEFAULT_MAX_CACHE_POSITIONS",
    "CacheStats",
    "ModelNotFoundError",
    "PrefixCache",
    "TorchLM",
    "cache_root",
    "default_gguf_path",
    "ensure_default_model",
    "pick_device",
    "pick_dtype",
]
