"""The digits jobs: a VAE, a latent UNet denoiser and a CNN classifier on scikit-learn's digits.

All three train through `train_loop` (checkpoints, resume, TensorBoard). The UNet trains on the
latents of a finished VAE run (``vae_run``), whose latent shape it records; each step's batch
depends only on (seed, step, rank), so resumed runs replay exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion import diffusion_loss, make_scheduler
from mctd_diffusion.images import (
    VAE,
    DigitClassifier,
    UNet2D,
    classifier_loss,
    load_digits_split,
    vae_loss,
)
from mctd_diffusion.images.classifier import accuracy
from mctd_diffusion.images.unet import drop_labels
from mctd_diffusion.schedulers import Scheduler
from mctd_tree.errors import IntegrityError, UserError
from mctd_tree.files import write_json
from torch import nn
from torch.nn import functional as F

from mctd_trainer import checkpoints
from mctd_trainer.gmm2d import step_seed
from mctd_trainer.loop import LoopConfig, make_accelerator, train_loop
from mctd_trainer.rundir import load_config, save_config

KINDS = ("vae", "unet", "classifier")
DEFAULT_ARCH: dict[str, dict[str, Any]] = {
    "vae": {"channels": 32, "latent_channels": 2},
    "unet": {"channels": [32, 64], "emb_dim": 64, "num_classes": 10, "mid_blocks": 2},
    "classifier": {"width": 16},
}
DEFAULT_STEPS = {"vae": 1500, "unet": 4000, "classifier": 800}
DEFAULT_LR = {"vae": 2e-3, "unet": 2e-3, "classifier": 3e-3}


@dataclass
class DigitsConfig:
    """The resolved config of one digits job, saved as ``config.json``."""

    kind: str
    steps: int
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 50
    seed: int = 0
    ckpt_every: int = 250
    log_every: int = 50
    keep: int = 3
    beta: float = 0.05  # VAE: weight of the KL term
    label_drop: float = 0.1  # UNet: P(class input zeroed), for classifier-free guidance
    num_train_timesteps: int = 1000
    vae_run: str | None = None  # UNet: the VAE run whose latents it learns
    arch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DigitsConfig:
        if d.get("job") != "digits":
            raise UserError(f"this is a {d.get('job')!r} run, not a digits run")
        cfg = cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})
        cfg.check()
        return cfg

    def check(self) -> None:
        """`UserError` naming the first bad field (before anything is written)."""
        if self.kind not in KINDS:
            raise UserError(f"kind must be one of {KINDS}, got {self.kind!r}")
        for name in ("steps", "batch_size", "ckpt_every", "log_every"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise UserError(f"{name} must be an integer >= 1, got {v!r}")
        if not 0 < self.lr < float("inf"):
            raise UserError(f"lr must be a finite number > 0, got {self.lr!r}")
        if not 0 <= self.label_drop < 1:
            raise UserError(f"label_drop must be in [0, 1), got {self.label_drop}")
        if self.kind == "unet" and self.vae_run is None:
            raise UserError("the unet job needs --vae RUN_DIR (a finished `mctd-train vae` run)")
        self.arch = {**DEFAULT_ARCH[self.kind], **self.arch}
        if self.arch.get("n_recursion"):
            from mctd_trainer.mor_unet import check_capacity

            check_capacity(self.arch.get("capacity", 1.0))

    def scheduler(self) -> Scheduler:
        return make_scheduler("ddim", num_train_timesteps=self.num_train_timesteps, eta=1.0)


def build(kind: str, arch: dict[str, Any]) -> nn.Module:
    """A fresh network of ``kind`` from its arch dict (the UNet's holds its latent shape)."""
    if kind == "vae":
        return VAE(**arch)
    if kind == "classifier":
        return DigitClassifier(**arch)
    a = dict(arch)
    shape = tuple(a.pop("latent_shape"))
    a["channels"] = tuple(a["channels"])
    if a.get("n_recursion"):  # the MoR UNet: a routed shared middle instead of mid_blocks
        from mctd_trainer.mor_unet import MoRUNet2D

        a.pop("mid_blocks", None)
        return MoRUNet2D(shape, **a)  # type: ignore[arg-type]
    a.pop("n_recursion", None)
    a.pop("capacity", None)
    return UNet2D(shape, **a)  # type: ignore[arg-type]


def train_digits(
    cfg: DigitsConfig, run_dir: Path, *, resume: bool = False, device: str = "cpu", threads: int = 1
) -> dict[str, float]:
    """Train (or resume) one digits job; returns its validation metrics (also in eval.json)."""
    data = load_digits_split()
    torch.manual_seed(cfg.seed)
    accelerator = make_accelerator(device, threads)
    rank = accelerator.process_index
    x_tr, y_tr, x_val, y_val = data.x_train, data.y_train, data.x_val, data.y_val
    if cfg.kind == "unet":
        vae = load_digits_model(Path(cfg.vae_run or ""), "vae")[0]
        assert isinstance(vae, VAE)
        with torch.no_grad():
            x_tr, x_val = vae.to_latent(x_tr), vae.to_latent(x_val)
        cfg.arch["latent_shape"] = list(vae.latent_shape)
    save_config(run_dir, {"job": "digits", **asdict(cfg)})
    model = build(cfg.kind, cfg.arch)
    sched = cfg.scheduler()

    def batch(step: int) -> tuple[torch.Generator, torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(step_seed(cfg.seed, step, rank))
        idx = torch.randint(0, len(x_tr), (cfg.batch_size,), generator=g)
        return g, x_tr[idx], y_tr[idx]

    def loss_fn(net: nn.Module, step: int, dev: torch.device) -> torch.Tensor:
        g, x, y = batch(step)
        if cfg.kind == "vae":
            return vae_loss(net, x.to(dev), cfg.beta, generator=g)  # type: ignore[arg-type]
        if cfg.kind == "classifier":
            return classifier_loss(net, x.to(dev), y.to(dev), generator=g)
        onehot = drop_labels(F.one_hot(y, 10).float(), cfg.label_drop, g)
        return diffusion_loss(net, sched, x.to(dev), generator=g, cond=onehot.to(dev))

    def evaluate(net: nn.Module, step: int) -> dict[str, float]:
        return validate(cfg, net, sched, x_tr, x_val, y_val)

    loop = LoopConfig(
        cfg.steps,
        cfg.lr,
        cfg.warmup,
        ckpt_every=cfg.ckpt_every,
        log_every=cfg.log_every,
        keep=cfg.keep,
    )
    meta = {"job": "digits", "kind": cfg.kind, "arch": cfg.arch}
    res = train_loop(
        model,
        optimizer := torch.optim.Adam(model.parameters(), cfg.lr),
        loss_fn,
        loop,
        run_dir,
        accelerator=accelerator,
        resume=resume,
        meta=meta,
        evaluate=evaluate,
    )
    del optimizer
    raw = accelerator.unwrap_model(model).cpu()
    metrics = validate(cfg, raw, sched, x_tr, x_val, y_val)
    metrics.update(end_step=res.end_step, last_loss=res.last_loss)
    write_json(run_dir / "eval.json", metrics)
    accelerator.print(
        f"digits {cfg.kind}: " + ", ".join(f"{k} {v:.4g}" for k, v in metrics.items())
    )
    return metrics


@torch.no_grad()
def validate(
    cfg: DigitsConfig,
    net: nn.Module,
    sched: Scheduler,
    x_tr: torch.Tensor,
    x_val: torch.Tensor,
    y_val: torch.Tensor,
) -> dict[str, float]:
    """Validation scalars: VAE recon RMSE per pixel (and it sets ``latent_scale`` from the
    training images, so the checkpoint carries it); classifier accuracy; UNet eps-loss."""
    net.eval()
    if isinstance(net, VAE):
        scale = net.fit_latent_scale(x_tr)
        rmse = float((net.decode(net.encode(x_val)[0]) - x_val).pow(2).mean().sqrt())
        return {"val/recon_rmse": rmse, "val/latent_scale": scale}
    if isinstance(net, DigitClassifier):
        return {"val/accuracy": accuracy(net, x_val, y_val)}
    onehot = F.one_hot(y_val, 10).float()
    g = torch.Generator().manual_seed(12345)
    return {"val/eps_loss": float(diffusion_loss(net, sched, x_val, generator=g, cond=onehot))}


def load_digits_model(
    run_dir: Path, kind: str | None = None
) -> tuple[nn.Module, DigitsConfig, int]:
    """(model in eval mode, config, step) from a digits run's newest good checkpoint."""
    cfg = DigitsConfig.from_dict(load_config(run_dir))
    if kind is not None and cfg.kind != kind:
        raise UserError(f"{run_dir} is a digits {cfg.kind} run, not a {kind} run")
    ck = checkpoints.load_latest(run_dir / "checkpoints")
    if ck is None:
        raise IntegrityError(f"no valid checkpoint in {run_dir / 'checkpoints'}")
    model = build(cfg.kind, cfg.arch)
    model.load_state_dict({k[6:]: v for k, v in ck.tensors.items() if k.startswith("model.")})
    return model.eval(), cfg, ck.step
