"""Minimal safetensors files (no extra dependency) written atomically.

Layout (the safetensors spec): an 8-byte little-endian header length n, n bytes of JSON
{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}} padded with spaces
to a multiple of 8, then the raw little-endian tensor bytes. Files written here load with
``safetensors.torch.load_file`` and vice versa (for the dtypes below). The metadata carries a
SHA-256 over the tensors and the metadata (`mctd_diffusion.checksum`), checked on every load.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
from pathlib import Path

import numpy as np
import torch
from mctd_tree.errors import IntegrityError

from mctd_diffusion.checksum import sign, verify

_DTYPES = {
    torch.float32: ("F32", np.float32),
    torch.float64: ("F64", np.float64),
    torch.float16: ("F16", np.float16),
    torch.int64: ("I64", np.int64),
    torch.int32: ("I32", np.int32),
    torch.uint8: ("U8", np.uint8),
    torch.bool: ("BOOL", np.bool_),
}
_BY_NAME = {name: (tdt, ndt) for tdt, (name, ndt) in _DTYPES.items()}


def save_safetensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    """Write ``tensors`` and string ``meta`` to ``path`` via a temp file, fsync and rename."""
    header: dict[str, object] = {"__metadata__": sign(tensors, meta)}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if t.dtype not in _DTYPES:
            raise TypeError(f"tensor {name!r} has unsupported dtype {t.dtype}")
        raw = t.numpy().astype(_DTYPES[t.dtype][1], copy=False).tobytes()
        header[name] = {
            "dtype": _DTYPES[t.dtype][0],
            "shape": list(t.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(struct.pack("<Q", len(head)) + head)
            for raw in blobs:
                f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read and verify a file written by :func:`save_safetensors` (or any safetensors file of
    these dtypes; one without a checksum loads unverified). `IntegrityError` if it is bad."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise IntegrityError(f"{path} is not a safetensors file (too short)")
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8 : 8 + n])
        meta = header.pop("__metadata__", {}) or {}
        body = memoryview(data)[8 + n :]
        out = {}
        for name, info in header.items():
            tdt, ndt = _BY_NAME[info["dtype"]]
            b, e = info["data_offsets"]
            if e > len(body):
                raise IntegrityError(f"{path} is truncated (tensor {name!r})")
            arr = np.frombuffer(body[b:e], dtype=ndt).reshape(info["shape"])
            out[name] = torch.from_numpy(arr.copy()).to(tdt)
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as err:
        if isinstance(err, IntegrityError):
            raise
        raise IntegrityError(f"{path} is not a readable safetensors file ({err})") from None
    verify(out, meta, path, required=False)
    return out, {k: v for k, v in meta.items() if k not in ("sha256", "checksum")}
