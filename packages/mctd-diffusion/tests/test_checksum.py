"""Tensor-file checksums: a flipped bit or an edited metadata value in a maze planner file is
caught on load; files from before checksums still load (unverified)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from mctd_diffusion.checksum import sign, tensor_digest, verify
from mctd_diffusion.maze.checkpoint import load_safetensors, save_safetensors
from mctd_tree.errors import IntegrityError


def _write(path: Path) -> dict[str, torch.Tensor]:
    t = {"w": torch.linspace(-1, 1, 64), "n": torch.arange(4)}
    save_safetensors(path, t, {"step": "600", "config": json.dumps({"maze": "medium"})})
    return t


def _header(data: bytes) -> tuple[int, dict]:
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n])


def test_flipped_bit_in_tensor_bytes_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "planner.safetensors"
    _write(p)
    data = bytearray(p.read_bytes())
    n, _ = _header(bytes(data))
    data[8 + n + 13] ^= 0x10  # one bit of one float of "n"/"w"
    p.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="fails its SHA-256 check"):
        load_safetensors(p)


def test_edited_metadata_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "planner.safetensors"
    _write(p)
    data = p.read_bytes()
    edited = data.replace(b'"step":"600"', b'"step":"900"')
    assert edited != data and len(edited) == len(data)
    p.write_bytes(edited)
    with pytest.raises(IntegrityError, match=str(p)):
        load_safetensors(p)


def test_round_trip_strips_checksum_and_garbage_is_an_integrity_error(tmp_path: Path) -> None:
    p = tmp_path / "planner.safetensors"
    t = _write(p)
    back, meta = load_safetensors(p)
    assert meta["step"] == "600" and "sha256" not in meta
    assert all(torch.equal(back[k], t[k]) for k in t)
    p.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(IntegrityError, match="not a readable"):
        load_safetensors(p)


def test_legacy_and_v2_verification() -> None:
    t = {"a": torch.ones(3)}
    meta = sign(t, {"step": "5"})
    assert verify(t, meta, "x") and meta["sha256"] == tensor_digest(t, meta)
    assert not verify(t, {"step": "5"}, "x", required=False)
    with pytest.raises(IntegrityError, match="no checksum"):
        verify(t, {"step": "5"}, "x")
    with pytest.raises(IntegrityError):  # a v2 hash never passes as a legacy one
        verify(t, {k: v for k, v in meta.items() if k != "checksum"}, "x")
