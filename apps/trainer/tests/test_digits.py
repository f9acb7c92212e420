"""``mctd-train vae|unet|classifier --data digits``: tiny runs, resume, loaders and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from mctd_diffusion.images import VAE, UNet2D, check_latent_match
from mctd_trainer import checkpoints
from mctd_trainer.cli import app
from mctd_trainer.digits import DigitsConfig, load_digits_model, train_digits
from mctd_tree.errors import UserError
from typer.testing import CliRunner

TINY = ["--steps", "4", "--ckpt-every", "2", "--batch-size", "8"]


def _ok(*args: str) -> None:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 0, res.output


def _fails(*args: str) -> str:
    res = CliRunner().invoke(app, list(args))
    assert res.exit_code == 2, res.output
    return " ".join(res.output.split())


def test_vae_then_unet_then_classifier_train_and_load(tmp_path: Path) -> None:
    vae_dir, unet_dir, clf_dir = tmp_path / "vae", tmp_path / "unet", tmp_path / "clf"
    _ok("vae", "--data", "digits", *TINY, "--latent-channels", "3", "--out", str(vae_dir))
    _ok("unet", *TINY, "--vae", str(vae_dir), "--out", str(unet_dir))
    _ok("classifier", *TINY, "--out", str(clf_dir))
    vae, _, step = load_digits_model(vae_dir, "vae")
    unet, cfg, _ = load_digits_model(unet_dir, "unet")
    assert isinstance(vae, VAE) and isinstance(unet, UNet2D) and step == 4
    assert float(vae.latent_scale) != 1.0  # fitted at the checkpoint, saved with the weights
    check_latent_match(vae.latent_shape, unet)
    assert unet.latent_shape == (3, 4, 4) and cfg.vae_run == str(vae_dir)
    assert (clf_dir / "eval.json").exists() and any((clf_dir / "tb").iterdir())
    with pytest.raises(UserError, match="not a vae run"):
        load_digits_model(clf_dir, "vae")


def test_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    train_digits(DigitsConfig("classifier", 6, batch_size=8, ckpt_every=3), a)
    cfg = DigitsConfig("classifier", 3, batch_size=8, ckpt_every=3)
    cfg.check()
    train_digits(cfg, b)
    cfg.steps = 6
    train_digits(cfg, b, resume=True)
    ta, tb = (checkpoints.load_latest(d / "checkpoints") for d in (a, b))
    assert ta is not None and tb is not None and ta.step == tb.step == 6
    for k, v in ta.tensors.items():
        if k.startswith("model."):
            assert torch.allclose(v, tb.tensors[k], atol=1e-6), k


def test_bad_input_is_one_line_exit_2(tmp_path: Path) -> None:
    assert "--data must be 'digits'" in _fails("vae", "--data", "mnist", *TINY)
    assert "needs --vae" in _fails("unet", *TINY, "--out", str(tmp_path / "u"))
    clf = tmp_path / "clf"
    _ok("classifier", *TINY, "--out", str(clf))
    assert "not a vae run" in _fails("unet", *TINY, "--vae", str(clf), "--out", str(tmp_path / "v"))
    assert "not a vae run" in _fails("vae", *TINY, "--resume", "--out", str(clf))
    assert "already holds checkpoints" in _fails("classifier", *TINY, "--out", str(clf))
