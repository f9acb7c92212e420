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


def test_edited_metadata_is_detected_and_skipped(tmp_path: Path, caplog) -> None:
    for step in (600, 700):
        checkpoints.save(tmp_path, step, _tensors(float(step)), {"job": "gmm2d"})
    newest = checkpoints.list_checkpoints(tmp_path)[-1]
    data = newest.read_bytes()
    edited = data.replace(b'"step":"700"', b'"step":"900"')
    assert edited != data and len(edited) == len(data)
    newest.write_bytes(edited)
    with pytest.raises(CheckpointError, match="SHA-256"):
        checkpoints.load(newest)
    with caplog.at_level(logging.WARNING):
        ck = checkpoints.load_latest(tmp_path)
    assert ck is not None and ck.step == 600 and "ckpt-000000700" in caplog.text


def test_a_checkpoint_error_is_a_user_facing_integrity_error() -> None:
    from mctd_tree.errors import IntegrityError, UserError

    assert issubclass(CheckpointError, IntegrityError) and issubclass(CheckpointError, UserError)


def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path: Path) -> None:
    from mctd_trainer.loop import DivergedError, LoopConfig, make_accelerator, train_loop

    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def loss_fn(net: torch.nn.Module, step: int, dev: torch.device) -> torch.Tensor:
        out = net(torch.ones(4, 2)).pow(2).mean()
        return out * float("nan") if step == 5 else out

    cfg = LoopConfig(10, lr=0.1, warmup=1, ckpt_every=2)
    with pytest.raises(DivergedError, match=r"loss is nan at step 6.*ckpt-000000004"):
        train_loop(model, opt, loss_fn, cfg, tmp_path, accelerator=make_accelerator("cpu"))
    ck = checkpoints.load_latest(tmp_path / "checkpoints")
    assert ck is not None and ck.step == 4
    assert all(torch.isfinite(v).all() for v in ck.tensors.values())


def test_huge_lr_diverges_with_a_clear_message_and_no_eval_json(tmp_path: Path) -> None:
    from mctd_trainer.cli import app
    from typer.testing import CliRunner

    args = ["gmm2d", "--steps", "20", "--ckpt-every", "2", "--batch-size", "16", "--lr", "1e38"]
    res = CliRunner().invoke(app, [*args, "--eval-samples", "10", "--out", str(tmp_path / "r")])
    assert res.exit_code == 2, res.output
    assert "training diverged" in res.output and "lower learning rate than 1e+38" in res.output
    assert not (tmp_path / "r" / "eval.json").exists()
    for p in checkpoints.list_checkpoints(tmp_path / "r" / "checkpoints"):
        assert all(torch.isfinite(v).all() for v in checkpoints.load(p).tensors.values())


def test_latest_step_reads_only_the_header(tmp_path: Path, monkeypatch) -> None:
    """The step before a resume comes from the newest header, without loading the tensors (the
    resume's loop verifies the checkpoint once); an unreadable file falls back."""
    assert checkpoints.latest_step(tmp_path / "none") == 0
    for step in (10, 20, 30):
        checkpoints.save(tmp_path, step, _tensors(float(step)), {"job": "x"})

    def no_load(*a, **k):
        raise AssertionError("latest_step loaded the tensors")

    monkeypatch.setattr(checkpoints, "load_file", no_load)
    assert checkpoints.latest_step(tmp_path) == 30
    newest = checkpoints.list_checkpoints(tmp_path)[-1]
    newest.write_bytes(newest.read_bytes()[:5])  # not even a header
    assert checkpoints.latest_step(tmp_path) == 20
