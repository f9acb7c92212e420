"""Diffusion Forcing training of a maze planner, checkpointed (safetensors) and resumable.

Loss: E ||f(x_t, t) - x0||² over plan tokens, with an independent level t_n ~ U{0..T-1} per token
(x_t,n = sqrt(abar_{t_n}) x0_n + sqrt(1 - abar_{t_n}) eps_n) and the clean context token at t = 0.
Windows: a random start index s of a random episode; context = obs[s], plan =
obs[s + every], obs[s + 2·every], ..., obs[s + horizon]. The batch of step i is drawn from a
torch generator seeded with (seed, i): a resumed run sees the batches an uninterrupted one would.
With ``cfg.ema`` > 0 an exponential moving average of the weights is kept (decay
min(ema, (1 + i) / (10 + i)) at step i), saved as ``ema.*`` tensors and loaded by default.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from mctd_diffusion.maze.checkpoint import load_safetensors, save_safetensors
from mctd_diffusion.maze.data import load_dataset
from mctd_diffusion.maze.planner import PlanCodec, PlannerConfig, build_model, make_scheduler
from mctd_diffusion.parameterisation import target
from mctd_diffusion.schedulers import DDIMScheduler

CKPT = "planner.safetensors"


@dataclass
class TrainResult:
    """The trained model, its config, the last loss and the seconds this call trained."""

    model: torch.nn.Module
    config: PlannerConfig
    step: int
    loss: float
    seconds: float
    losses: list[float]


def _batch(
    obs: torch.Tensor, cfg: PlannerConfig, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    e, t1, _ = obs.shape
    ep = torch.randint(0, e, (cfg.batch_size,), generator=gen)
    s = torch.randint(0, t1 - cfg.horizon, (cfg.batch_size,), generator=gen)
    idx = s[:, None] + cfg.every * torch.arange(1, cfg.n_states + 1)[None, :]
    return obs[ep, s], obs[ep[:, None], idx]


def noise_levels(
    cfg: PlannerConfig, sched: DDIMScheduler, batch: int, gen: torch.Generator
) -> torch.Tensor:
    """Per-token training levels (B, N): independent t_n ~ U{0..T-1} (Diffusion Forcing), except
    a ``pyramid_frac`` share of rows that get the inference pattern k_n = clip(L + n - m, 0, L) at
    a random row m on the L-level DDIM grid (clean -> t = 0), so the coupling of a noisy token to
    its cleaner predecessors, which single-token marginals never teach, is seen often."""
    n = cfg.n_tokens
    t = torch.randint(0, cfg.train_timesteps, (batch, n), generator=gen)
    if cfg.pyramid_frac <= 0:
        return t
    lv = cfg.sample_levels
    sched.set_timesteps(lv)
    grid = torch.cat([torch.zeros(1, dtype=torch.long), sched.timesteps.flip(0)])
    m = torch.randint(0, lv + n, (batch, 1), generator=gen)
    k = (lv + torch.arange(n)[None, :] - m).clamp(0, lv)
    use = torch.rand(batch, 1, generator=gen) < cfg.pyramid_frac
    return torch.where(use, grid[k], t)


def loss_weights(cfg: PlannerConfig, sched: DDIMScheduler, t: torch.Tensor) -> torch.Tensor:
    """Per-token weights of the x0 error at levels ``t`` (B, N): 1 ("x0"), or 1 / (1 - abar_t)
    ("v"). With the skip parameterisation x0_hat - x0 = sqrt(1 - abar)·(F - F*), so the plain x0
    loss weights the network's error by 1 - abar (~0.006 at the last DDIM level): the planner then
    never learns to remove the small noise left at the end of sampling, and its plans keep a
    ~0.3-unit jitter per state that fails the value's warp check."""
    if cfg.loss_weight == "x0":
        return torch.ones(t.shape)
    if cfg.loss_weight == "v":
        return 1.0 / (1.0 - sched.alphas_cumprod[t]).to(torch.float32)
    raise ValueError(f"unknown loss_weight {cfg.loss_weight!r}; expected 'x0' or 'v'")


def _lr(cfg: PlannerConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 10%."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))))


class Adam:
    """Adam (decoupled, no weight decay) kept by hand: torch.optim's first use imports
    torch._dynamo (tens of seconds on a loaded CPU), and named moments make checkpoints simple.

    m <- b1 m + (1 - b1) g;  v <- b2 v + (1 - b2) g²;  p <- p - lr·m̂ / (sqrt(v̂) + eps).
    """

    def __init__(self, model: torch.nn.Module, b1: float = 0.9, b2: float = 0.999) -> None:
        self.params = dict(model.named_parameters())
        self.m = {k: torch.zeros_like(p) for k, p in self.params.items()}
        self.v = {k: torch.zeros_like(p) for k, p in self.params.items()}
        self.b1, self.b2, self.t = b1, b2, 0

    @torch.no_grad()
    def step(self, lr: float, eps: float = 1e-8) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for k, p in self.params.items():
            if p.grad is None:
                continue
            self.m[k].mul_(self.b1).add_(p.grad, alpha=1 - self.b1)
            self.v[k].mul_(self.b2).addcmul_(p.grad, p.grad, value=1 - self.b2)
            p.sub_(lr * (self.m[k] / c1) / ((self.v[k] / c2).sqrt() + eps))

    def state(self) -> dict[str, torch.Tensor]:
        out = {f"optim.m.{k}": v for k, v in self.m.items()}
        return out | {f"optim.v.{k}": v for k, v in self.v.items()}

    def load(self, tensors: dict[str, torch.Tensor], t: int) -> None:
        for k in self.params:
            self.m[k].copy_(tensors[f"optim.m.{k}"])
            self.v[k].copy_(tensors[f"optim.v.{k}"])
        self.t = t


class EMA:
    """Exponential moving average of a model's floating-point weights."""

    def __init__(self, model: torch.nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if v.is_floating_point():
                self.shadow[k].lerp_(v, 1 - d)
            else:
                self.shadow[k].copy_(v)

    def state(self) -> dict[str, torch.Tensor]:
        return {f"ema.{k}": v for k, v in self.shadow.items()}

    def load(self, tensors: dict[str, torch.Tensor]) -> None:
        for k in self.shadow:
            self.shadow[k].copy_(tensors[f"ema.{k}"])


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    opt: Adam,
    cfg: PlannerConfig,
    step: int,
    losses: list[float],
    ema: EMA | None = None,
) -> None:
    """model.*, optim.* (and ema.*) tensors; config, step and loss history in the metadata."""
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()} | opt.state()
    if ema is not None:
        tensors |= ema.state()
    meta = {"config": json.dumps(cfg.to_dict()), "step": str(step), "losses": json.dumps(losses)}
    save_safetensors(path, tensors, meta)


def _prefixed(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}


def load_planner(path: Path | str, ema: bool = True) -> tuple[torch.nn.Module, PlannerConfig, int]:
    """A trained planner (eval mode), its config and training step from a checkpoint file or dir;
    the EMA weights when the run kept them and ``ema`` is true, else the raw weights."""
    path = Path(path)
    if path.is_dir():
        path = path / CKPT
    tensors, meta = load_safetensors(path)
    cfg = PlannerConfig.from_dict(json.loads(meta["config"]))
    model = build_model(cfg)
    use_ema = ema and any(k.startswith("ema.") for k in tensors)
    model.load_state_dict(_prefixed(tensors, "ema." if use_ema else "model."))
    return model.eval(), cfg, int(meta["step"])


def train_planner(
    cfg: PlannerConfig,
    out_dir: Path | str,
    resume: bool = True,
    log: Callable[[str], None] | None = print,
    init: Path | str | None = None,
) -> TrainResult:
    """Train (or resume) the planner of ``cfg`` into ``out_dir/planner.safetensors``.

    ``init``: a planner checkpoint (file or dir) of the same architecture whose weights start a
    fresh run (fine-tuning; ignored when resuming from ``out_dir``)."""
    out = Path(out_dir)
    path = out / CKPT
    torch.manual_seed(cfg.seed)
    model = build_model(cfg)
    opt = Adam(model)
    step, losses = 0, []
    if resume and path.exists():
        tensors, meta = load_safetensors(path)
        saved = PlannerConfig.from_dict(json.loads(meta["config"]))
        if {**saved.to_dict(), "steps": 0} != {**cfg.to_dict(), "steps": 0}:
            raise ValueError(f"{path} was trained with a different config: {saved}")
        model.load_state_dict(_prefixed(tensors, "model."))
        step, losses = int(meta["step"]), json.loads(meta["losses"])
        opt.load(tensors, step)
    elif init is not None:
        base, base_cfg, _ = load_planner(init)
        if build_model(base_cfg).state_dict().keys() != model.state_dict().keys():
            raise ValueError(f"{init} has a different architecture")
        model.load_state_dict(base.state_dict())
    ema = EMA(model, cfg.ema) if cfg.ema > 0 else None
    if ema is not None and resume and path.exists():
        ema.load(tensors)
    data = load_dataset(cfg.maze, cfg.data_episodes, cfg.data_steps, cfg.data_seed)
    codec = PlanCodec(cfg)
    obs = torch.from_numpy(codec.normalise(data.obs).astype(np.float32))
    sched = make_scheduler(cfg)
    t0, loss_v = time.perf_counter(), float("nan")
    model.train()
    while step < cfg.steps:
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        start, plan = _batch(obs, cfg, gen)
        x0 = codec.plan_tokens(plan, start)
        t = noise_levels(cfg, sched, x0.shape[0], gen)
        eps = torch.randn(x0.shape, generator=gen)
        x_t = sched.add_noise(x0, eps, t)
        t_in = torch.cat([torch.zeros(len(t), 1, dtype=torch.long), t], dim=1)
        pred = model(torch.cat([codec.context(start), x_t], dim=1), t_in)[:, 1:]
        err = (pred - target(x0, eps, sched.abar(t, x0), "x0")) ** 2
        loss = torch.mean(err * loss_weights(cfg, sched, t)[..., None])
        model.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step(_lr(cfg, step))
        if ema is not None:
            ema.update(model, step)
        step += 1
        loss_v = float(loss.detach())
        losses.append(loss_v)
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            save_checkpoint(path, model, opt, cfg, step, losses, ema)
            if log:
                recent = float(np.mean(losses[-cfg.checkpoint_every :]))
                log(
                    f"[{cfg.maze} every={cfg.every}] step {step}/{cfg.steps} loss {recent:.5f} "
                    f"{time.perf_counter() - t0:.0f}s"
                )
    if ema is not None:
        model.load_state_dict(ema.shadow)
    model.eval()
    return TrainResult(model, cfg, step, loss_v, time.perf_counter() - t0, losses)
