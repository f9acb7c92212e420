"""Save and load a `MoRForCausalLM` folder: ``config.json`` + ``model.safetensors`` (atomic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from mctd_tree.errors import UserError
from mctd_tree.files import atomic_folder
from safetensors.torch import load_file, save_file

from mctd_mor.config import MoRConfig
from mctd_mor.model import MoRForCausalLM

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "mctd-mor/1"


class MoRLoadError(UserError):
    """A model folder that is missing, of another architecture, or whose tensors do not fit."""


def state_tensors(model: MoRForCausalLM) -> dict[str, torch.Tensor]:
    """Tensors to store (a tied LM head is the embedding, stored once)."""
    sd = model.state_dict()
    return {k: v.detach().cpu().contiguous() for k, v in sd.items()}


def save_model(model: MoRForCausalLM, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the folder atomically (temporary sibling folder, then rename over the old one)."""
    with atomic_folder(Path(folder)) as tmp:
        meta = {"format": FORMAT, "config": model.cfg.to_dict(), **(extra or {})}
        (tmp / CONFIG).write_text(json.dumps(meta, indent=1) + "\n")
        save_file(state_tensors(model), str(tmp / WEIGHTS), metadata={"format": FORMAT})
    return Path(folder)


def load_config(folder: Path) -> MoRConfig:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise MoRLoadError(f"{path} not found: not a mctd-mor model folder")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise MoRLoadError(
            f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}: not a mctd-mor model "
            f"folder (model_type {meta.get('model_type')!r}: a model of another architecture)"
        )
    return MoRConfig.from_dict(meta["config"])


def load_model(
    folder: Path, *, arch: str | None = None, device: str | torch.device = "cpu"
) -> MoRForCausalLM:
    """Build the model of ``folder`` and load its weights; ``arch`` checks the architecture."""
    cfg = load_config(folder)
    if arch is not None and cfg.arch != arch:
        raise MoRLoadError(f"{folder} holds a {cfg.arch!r} model, expected {arch!r}")
    model = MoRForCausalLM(cfg)
    tensors = load_file(str(Path(folder) / WEIGHTS))
    load_tensors(model, tensors, str(folder))
    return model.to(device).eval()


def load_tensors(model: MoRForCausalLM, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Load ``tensors`` into ``model`` or raise `MoRLoadError` naming what does not fit."""
    expected = state_tensors(model)
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        raise MoRLoadError(
            f"{where} does not fit a {model.cfg.arch} model with this config "
            f"(missing {missing[:4]}, unexpected {unexpected[:4]}, wrong shape {wrong[:4]}): "
            "a checkpoint of another architecture?"
        )
    model.load_state_dict(tensors)
