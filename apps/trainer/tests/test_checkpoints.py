import logging
from pathlib import Path

import pytest
import torch
from mctd_trainer import checkpoints
from mctd_trainer.checkpoints import CheckpointError


def _tensors(v: float) -> dict[str, torch.Tensor]:
    return {"model.w": torch.full((64, 64), v), "optim.0.step": torch.tensor(3.0)}


def test_roundtrip_and_keep(tmp_path: Path) -> None:
    for step in (10, 20, 30, 40):
        checkpoints.save(tmp_path, step, _tensors(float(step)), {"job": "x"}, keep=3)
    names = [p.name for p in checkpoints.list_checkpoints(tmp_path)]
    assert names == [
        "ckpt-000000020.safetensors",
        "ckpt-000000030.safetensors",
        "ckpt-000000040.safetensors",
    ]
    assert not list(tmp_path.glob(".*tmp*"))
    ck = checkpoints.load_latest(tmp_path)
    assert ck is not None and ck.step == 40 and ck.meta == {"job": "x"}
    torch.testing.assert_close(ck.tensors["model.w"], torch.full((64, 64), 40.0))


def test_truncated_and_corrupt_are_detected_and_skipped(tmp_path: Path, caplog) -> None:
    for step in (1, 2, 3):
        checkpoints.save(tmp_path, step, _tensors(float(step)), {})
    paths = checkpoints.list_checkpoints(tmp_path)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[: len(data) // 2])  # truncated (a kill mid-copy, a full disk)
    with pytest.raises(CheckpointError, match="unreadable"):
        checkpoints.load(paths[2])
    flipped = bytearray(paths[1].read_bytes())
    flipped[-100] ^= 0xFF  # one flipped byte inside the tensor data
    paths[1].write_bytes(bytes(flipped))
    with pytest.raises(CheckpointError, match="SHA-256"):
        checkpoints.load(paths[1])
    with caplog.at_level(logging.WARNING):
        ck = checkpoints.load_latest(tmp_path)
    assert ck is not None and ck.step == 1
    assert "ckpt-000000003" in caplog.text and "ckpt-000000002" in caplog.text
    assert "falling back" in caplog.text
