"""Atomic, verified safetensors checkpoints.

A checkpoint ``ckpt-<step>.safetensors`` holds the model (``model.*``) and optimizer state
(``optim.<param>.<key>``) tensors; its metadata holds the step, the job's metadata and a SHA-256
over every tensor's name, dtype, shape and bytes and over that metadata
(`mctd_diffusion.checksum`), so an edited step is caught like a flipped bit. It is written to a
temp file, fsynced and renamed into place, so a kill leaves either the old set or a complete new
file. Loading recomputes the checksum: a truncated, corrupted or edited file is reported and the
previous good checkpoint is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion.checksum import sign, tensor_digest, verify
from mctd_tree.errors import IntegrityError
from mctd_tree.files import fsync_dir
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)
_NAME = re.compile(r"^ckpt-(\d+)\.safetensors$")


class CheckpointError(IntegrityError):
    """A checkpoint file that cannot be trusted (truncated, corrupted, or not ours)."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the step it was taken after, its tensors and extra metadata."""

    step: int
    tensors: dict[str, torch.Tensor]
    meta: dict[str, Any]
    path: Path


def digest(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> str:
    """SHA-256 over every tensor (sorted by name) and the string metadata (`tensor_digest`)."""
    return tensor_digest(tensors, metadata)


def save(
    directory: Path,
    step: int,
    tensors: dict[str, torch.Tensor],
    meta: dict[str, Any],
    keep: int = 3,
) -> Path:
    """Write ``ckpt-<step>`` atomically (temp + fsync + rename); keep the newest ``keep`` files."""
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    metadata = sign(tensors, {"step": str(step), "meta": json.dumps(meta, sort_keys=True)})
    final = directory / f"ckpt-{step:09d}.safetensors"
    tmp = directory / f".{final.name}.tmp-{os.getpid()}"
    save_file(tensors, str(tmp), metadata=metadata)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, final)
    fsync_dir(directory)
    for old in list_checkpoints(directory)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return final


def load(path: Path) -> Checkpoint:
    """Load and verify one checkpoint; raise CheckpointError with the reason if it is bad."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as e:  # safetensors raises several types for truncated/garbled files
        raise CheckpointError(f"checkpoint {path} is unreadable (truncated or corrupt): {e}") from e
    if "sha256" not in metadata or "step" not in metadata:
        raise CheckpointError(f"checkpoint {path} has no mctd step/checksum metadata")
    try:
        verify(tensors, metadata, f"checkpoint {path}")
    except IntegrityError as e:
        raise CheckpointError(str(e)) from None
    try:
        return Checkpoint(
            int(metadata["step"]), tensors, json.loads(metadata.get("meta", "{}")), path
        )
    except ValueError as e:  # verified but unparsable: written by something else
        raise CheckpointError(f"checkpoint {path} has unreadable metadata ({e})") from None


def list_checkpoints(directory: Path) -> list[Path]:
    """Checkpoint files in ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in directory.iterdir() if (m := _NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_step(directory: Path) -> int:
    """The step recorded in the header of the newest checkpoint whose header reads (0: none),
    without loading or verifying its tensors: for checks before a resume, whose loop then loads
    and verifies the checkpoint once (a newest file whose tensors fail verification is skipped
    there, so the run resumes from an earlier step than this one)."""
    from safetensors import safe_open

    for path in reversed(list_checkpoints(directory)):
        try:
            with safe_open(str(path), framework="pt") as f:
                return int((f.metadata() or {})["step"])
        except Exception as e:  # unreadable header or no step: as load_latest, try the previous
            log.warning("checkpoint %s has no readable step (%s); trying the previous one", path, e)
    return 0


def load_latest(directory: Path) -> Checkpoint | None:
    """The newest checkpoint that verifies; bad ones are reported (logged) and skipped."""
    for path in reversed(list_checkpoints(directory)):
        try:
            return load(path)
        except CheckpointError as e:
            log.warning("%s; falling back to the previous checkpoint", e)
    return None
