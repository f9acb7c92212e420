"""Tensor checksums (`mctd_diffusion.checksum`, used by mctd-train's checkpoints, maze planners
included): a changed bit of a tensor or an edited metadata value fails verification; files from
before checksums verify as legacy (unverified) only when allowed. The file-level tests (a flipped
bit on disk, an edited step) live with the checkpoint writer in the trainer app."""

from __future__ import annotations

import pytest
import torch
from mctd_diffusion.checksum import sign, tensor_digest, verify
from mctd_tree.errors import IntegrityError


def _signed() -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    t = {"w": torch.linspace(-1, 1, 64), "n": torch.arange(4)}
    return t, sign(t, {"step": "600", "config": '{"maze": "medium"}'})


def test_flipped_bit_in_a_tensor_is_detected() -> None:
    t, meta = _signed()
    w = t["w"].clone()
    w.view(torch.int32)[13] ^= 0x10  # one bit of one float
    with pytest.raises(IntegrityError, match="planner"):
        verify({**t, "w": w}, meta, "planner")


def test_edited_metadata_is_detected() -> None:
    t, meta = _signed()
    with pytest.raises(IntegrityError, match="planner"):
        verify(t, {**meta, "step": "900"}, "planner")


def test_legacy_and_v2_verification() -> None:
    t = {"a": torch.ones(3)}
    meta = sign(t, {"step": "5"})
    assert verify(t, meta, "x") and meta["sha256"] == tensor_digest(t, meta)
    assert not verify(t, {"step": "5"}, "x", required=False)
    with pytest.raises(IntegrityError, match="no checksum"):
        verify(t, {"step": "5"}, "x")
    with pytest.raises(IntegrityError):  # a v2 hash never passes as a legacy one
        verify(t, {k: v for k, v in meta.items() if k != "checksum"}, "x")
