"""Save and load a `MaskedDiffusionLM` folder: ``config.json`` + ``model.safetensors`` (atomic)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from mctd_tree.errors import UserError
from mctd_tree.files import atomic_folder
from safetensors.torch import load_file, save_file

from mctd_thought.config import ThoughtConfig
from mctd_thought.model import MaskedDiffusionLM

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
FORMAT = "mctd-thought/1"


class ThoughtLoadError(UserError):
    """A model folder that is missing, of another architecture, or whose tensors do not fit."""


def save_model(model: MaskedDiffusionLM, folder: Path, extra: dict[str, Any] | None = None) -> Path:
    """Write the folder atomically (temporary sibling folder, then rename over the old one)."""
    with atomic_folder(Path(folder)) as tmp:
        meta = {"format": FORMAT, "config": model.cfg.to_dict(), **(extra or {})}
        (tmp / CONFIG).write_text(json.dumps(meta, indent=1) + "\n")
        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": FORMAT})
    return Path(folder)


def load_config(folder: Path) -> ThoughtConfig:
    path = Path(folder) / CONFIG
    if not path.is_file():
        raise ThoughtLoadError(f"{path} not found: not a mctd-thought model folder")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ThoughtLoadError(f"{path} is not valid JSON ({e})") from None
    if meta.get("format") != FORMAT:
        raise ThoughtLoadError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}")
    return ThoughtConfig.from_dict(meta["config"])


def load_model(
    folder: Path, *, arch: str | None = None, device: str | torch.device = "cpu"
) -> MaskedDiffusionLM:
    """Build the model of ``folder`` and load its weights; ``arch`` checks the architecture."""
    cfg = load_config(folder)
    if arch is not None and cfg.arch != arch:
        raise ThoughtLoadError(f"{folder} holds a {cfg.arch!r} model, expected {arch!r}")
    model = MaskedDiffusionLM(cfg)
    load_tensors(model, load_file(str(Path(folder) / WEIGHTS)), str(folder))
    return model.to(device).eval()


def load_tensors(model: MaskedDiffusionLM, tensors: dict[str, torch.Tensor], where: str) -> None:
    """Load ``tensors`` into ``model`` or raise `ThoughtLoadError` naming what does not fit."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        raise ThoughtLoadError(
            f"{where} does not fit a {model.cfg.arch} model with this config (missing "
            f"{missing[:3]}, unexpected {unexpected[:3]}, wrong shape {wrong[:3]}): a checkpoint "
            "of the other architecture?"
        )
    model.load_state_dict(tensors)
