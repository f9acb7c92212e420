"""The Diffusion Forcing training loss of a maze planner, and rebuilding a planner from tensors.

Loss: E ||f(x_t, t) - x0||² over plan tokens, with an independent level t_n ~ U{0..T-1} per token
(x_t,n = sqrt(abar_{t_n}) x0_n + sqrt(1 - abar_{t_n}) eps_n) and the clean context token at t = 0.
Windows: a random start index s of a random episode; context = obs[s], plan =
obs[s + every], obs[s + 2·every], ..., obs[s + horizon] (with inpainting obs[s], ...,
obs[s + horizon - every], its known states written clean into x_t and left out of the loss).
The batch of step i is drawn from a torch generator seeded with (seed, i): a resumed run sees
the batches an uninterrupted one would.

The optimisation loop, EMA and checkpoints are the trainer app's (``mctd-train maze``): a
:class:`PlannerLoss` is its ``loss_fn(model, step, device)``. Its checkpoints hold ``model.*``
(and ``ema.*``) tensors with the :class:`PlannerArch` in their metadata;
:func:`planner_from_tensors` rebuilds the network from them. :func:`load_legacy_planner` reads the
single-file ``planner.safetensors`` that mctd-diffusion < 0.4 wrote.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from mctd_diffusion.maze.data import load_dataset
from mctd_diffusion.maze.planner import (
    PlanCodec,
    PlannerArch,
    PlannerTraining,
    build_model,
    make_scheduler,
)
from mctd_diffusion.parameterisation import target
from mctd_diffusion.schedulers import DDIMScheduler

LEGACY_CKPT = "planner.safetensors"


def _batch(
    obs: torch.Tensor, arch: PlannerArch, batch_size: int, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    e, t1, _ = obs.shape
    ep = torch.randint(0, e, (batch_size,), generator=gen)
    s = torch.randint(0, t1 - arch.horizon, (batch_size,), generator=gen)
    first = arch.first_state
    idx = s[:, None] + arch.every * torch.arange(first, first + arch.n_states)[None, :]
    return obs[ep, s], obs[ep[:, None], idx]


def noise_levels(
    arch: PlannerArch,
    train: PlannerTraining,
    sched: DDIMScheduler,
    batch: int,
    gen: torch.Generator,
) -> torch.Tensor:
    """Per-token training levels (B, N): independent t_n ~ U{0..T-1} (Diffusion Forcing), except
    a ``pyramid_frac`` share of rows that get the inference pattern k_n = clip(L + n - m, 0, L) at
    a random row m on the L-level DDIM grid (clean -> t = 0), so the coupling of a noisy token to
    its cleaner predecessors, which single-token marginals never teach, is seen often."""
    n = arch.n_tokens
    t = torch.randint(0, arch.train_timesteps, (batch, n), generator=gen)
    if train.pyramid_frac <= 0:
        return t
    lv = train.sample_levels
    sched.set_timesteps(lv)
    grid = torch.cat([torch.zeros(1, dtype=torch.long), sched.timesteps.flip(0)])
    m = torch.randint(0, lv + n, (batch, 1), generator=gen)
    k = (lv + torch.arange(n)[None, :] - m).clamp(0, lv)
    use = torch.rand(batch, 1, generator=gen) < train.pyramid_frac
    return torch.where(use, grid[k], t)


def loss_weights(train: PlannerTraining, sched: DDIMScheduler, t: torch.Tensor) -> torch.Tensor:
    """Per-token weights of the x0 error at levels ``t`` (B, N): 1 ("x0"), or 1 / (1 - abar_t)
    ("v"). With the skip parameterisation x0_hat - x0 = sqrt(1 - abar)·(F - F*), so the plain x0
    loss weights the network's error by 1 - abar (~0.006 at the last DDIM level): the planner then
    never learns to remove the small noise left at the end of sampling, and its plans keep a
    ~0.3-unit jitter per state that fails the value's warp check."""
    if train.loss_weight == "x0":
        return torch.ones(t.shape)
    if train.loss_weight == "v":
        return 1.0 / (1.0 - sched.alphas_cumprod[t]).to(torch.float32)
    raise ValueError(f"unknown loss_weight {train.loss_weight!r}; expected 'x0' or 'v'")


class PlannerLoss:
    """``loss(model, step, device)``: the weighted x0 loss on the batch of ``step`` (see module
    doc); the navigate dataset of ``arch.maze`` is generated (or read from the cache) once."""

    def __init__(self, arch: PlannerArch, train: PlannerTraining) -> None:
        loss_weights(train, make_scheduler(arch), torch.zeros(1, 1, dtype=torch.long))  # check
        self.arch, self.train = arch, train
        self.codec = PlanCodec(arch)
        self.sched = make_scheduler(arch)
        data = load_dataset(
            arch.maze,
            train.data_episodes,
            train.data_steps,
            train.data_seed,
            train.data_goals,
            train.data_oracle,
        )
        self.obs = torch.from_numpy(self.codec.normalise(data.obs).astype(np.float32))

    def __call__(
        self, model: torch.nn.Module, step: int, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        gen = torch.Generator().manual_seed(self.train.seed * 1_000_003 + step)
        start, plan = _batch(self.obs, self.arch, self.train.batch_size, gen)
        x0 = self.codec.plan_tokens(plan, start)
        t = noise_levels(self.arch, self.train, self.sched, x0.shape[0], gen)
        eps = torch.randn(x0.shape, generator=gen)
        x_t = self.codec.inpaint(self.sched.add_noise(x0, eps, t), start, plan[:, -1])
        t_in = torch.cat([torch.zeros(len(t), 1, dtype=torch.long), t], dim=1)
        inp = torch.cat([self.codec.context(start), x_t], dim=1).to(device)
        pred = model(inp, t_in.to(device))[:, 1:]
        err = (pred - target(x0, eps, self.sched.abar(t, x0), "x0").to(device)) ** 2
        weights = loss_weights(self.train, self.sched, t)[..., None] * ~self.codec.known()
        return torch.mean(err * weights.to(device))


def planner_from_tensors(
    tensors: dict[str, torch.Tensor], arch: PlannerArch, ema: bool = True
) -> torch.nn.Module:
    """The planner network of ``arch`` (eval mode) with the checkpoint's ``ema.*`` weights when
    it has them and ``ema`` is true, else its ``model.*`` weights."""
    model = build_model(arch)
    prefix = "ema." if ema and any(k.startswith("ema.") for k in tensors) else "model."
    model.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
    return model.eval()


def load_legacy_planner(
    path: Path | str, ema: bool = True
) -> tuple[torch.nn.Module, PlannerArch, int]:
    """(network, architecture, training step) of a ``planner.safetensors`` written by
    mctd-diffusion < 0.4 (a file, or the folder holding it); its full config is in the metadata."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if path.is_dir():
        path = path / LEGACY_CKPT
    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata() or {}
    if "config" not in meta or "step" not in meta:
        raise ValueError(f"{path} has no planner config/step metadata")
    arch = PlannerArch.from_dict(json.loads(meta["config"]))
    return planner_from_tensors(load_file(str(path)), arch, ema), arch, int(meta["step"])
