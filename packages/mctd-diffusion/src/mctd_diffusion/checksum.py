"""Checksums of tensor files (trainer checkpoints, maze planners): SHA-256 over every tensor's
name, dtype, shape and bytes *and* over the string metadata stored beside them
(`mctd_tree.files.digest`), so an edited step or config is caught like a flipped bit.

`sign` adds ``sha256`` and ``checksum = "v2"`` to the metadata before a file is written; `verify`
recomputes it after reading. Files from before v2 carry a ``sha256`` over the tensors alone
(mctd-train <= 0.3) and are verified that way; a v2 file cannot pass as one, since its stored
hash also covers the metadata.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch
from mctd_tree.errors import IntegrityError
from mctd_tree.files import digest

VERSION = "v2"


def _raw(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def tensor_digest(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, str]) -> str:
    """The v2 SHA-256 of ``tensors`` (sorted by name) and ``meta``."""
    items = [
        (n, str(tensors[n].dtype), tuple(tensors[n].shape), _raw(tensors[n]))
        for n in sorted(tensors)
    ]
    return digest(items, meta)


def _legacy_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name]
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(_raw(t))
    return h.hexdigest()


def sign(tensors: Mapping[str, torch.Tensor], meta: Mapping[str, str]) -> dict[str, str]:
    """``meta`` plus ``checksum`` and the ``sha256`` over the tensors and all of that metadata."""
    out = {k: v for k, v in meta.items() if k != "sha256"}
    out["checksum"] = VERSION
    out["sha256"] = tensor_digest(tensors, out)
    return out


def verify(
    tensors: Mapping[str, torch.Tensor],
    meta: Mapping[str, str],
    path: Path | str,
    *,
    required: bool = True,
) -> bool:
    """Check the stored checksum; `IntegrityError` naming ``path`` on a mismatch. A file with no
    checksum raises too when ``required``, else returns False (unverified legacy file)."""
    if "sha256" not in meta:
        if required:
            raise IntegrityError(f"{path} carries no checksum (not an mctd checkpoint?)")
        return False
    want = meta["sha256"]
    got = tensor_digest(tensors, meta) if meta.get("checksum") == VERSION else None
    if got is None:
        got = _legacy_digest(tensors)
    if got != want:
        raise IntegrityError(
            f"{path} fails its SHA-256 check (tensors or metadata were changed or corrupted)"
        )
    return True
