"""Atomic writes and checksums for corpus files (temp file in the same folder, fsync, rename)."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import tempfile
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (indented, trailing newline)."""
    atomic_write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode())


def write_jsonl_xz(path: Path, rows: list[dict[str, Any]]) -> None:
    """Atomically write ``rows`` as xz-compressed JSON lines."""
    raw = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    atomic_write_bytes(path, lzma.compress(raw, preset=9))


def read_jsonl_xz(path: Path) -> list[dict[str, Any]]:
    """Read the rows of an xz-compressed JSON-lines file."""
    text = lzma.decompress(path.read_bytes()).decode()
    return [json.loads(line) for line in text.splitlines() if line]
