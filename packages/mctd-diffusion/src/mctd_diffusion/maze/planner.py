"""The Diffusion Forcing planner: configuration, plan <-> token codec and the network.

A plan is S = plan_steps / every states (x, y) (every = 1 dense, H = 5 sparse), grouped into
N = S / token_size tokens of token_size·2 numbers. Token 0 of the network input is a clean context
token holding the start state (repeated token_size times); tokens 1..N are the plan, as absolute
states or (``relative``) as offsets from the start, so that the first states of every plan sit
near 0 and continuing from the start needs no copying of the context. The goal is
not an input: it enters only through guidance and the value function (as in the paper's planner).
With ``inpaint`` (Diffuser-style conditioning) the plan's state 0 is the start itself (states at
env steps 0, every, ..., horizon - every) and is written into the sample at every denoising step
and into every training input (``PlanCodec.inpaint``); "start_goal" also writes the goal into the
last state. The network is the transformer or (``net="unet"``) Diffuser's temporal U-Net over the
token sequence (token_size = 1: over states).
Coordinates are normalised by the maze: u = (p - centre) / scale; a small scale (4 = one cell per
unit) keeps the 0.2-unit steps visible above the noise for more of the diffusion levels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
from torch import nn

from mctd_diffusion.denoisers import TransformerDenoiser, UNet1D
from mctd_diffusion.maze.maps import HORIZON, MazeMap, cell_to_xy
from mctd_diffusion.schedulers import DDIMScheduler

MAX_OCTAVES = 6


@dataclass(frozen=True)
class PlannerArch:
    """The planner's architecture: what a checkpoint needs to rebuild the network and its codec."""

    maze: str = "medium"
    every: int = 1  # subsampling stride H of the trajectory (1 = dense, 5 = sparse)
    token_size: int = 10
    plan_steps: int = 0  # env steps a plan covers (0: the maze's horizon)
    d_model: int = 64
    n_layers: int = 4
    n_heads: int = 4
    train_timesteps: int = 1000
    pos_scale: float = 0.0  # world units per normalised unit (0: 2·max(rows, cols), data in ±1)
    neighbour: bool = False  # feed each token its left neighbour (see SkipX0Denoiser)
    relative: bool = False  # plan tokens hold offsets from the start state (same scale)
    anchor: bool = False  # x0 predicted as an offset from the left neighbour (SkipX0Denoiser)
    net: str = "transformer"  # or "unet": UNet1D, channels d_model·2^i for i < unet_levels
    unet_levels: int = 3
    inpaint: str = "none"  # "start": state 0 is the start; "start_goal": and the last the goal
    fourier: int = 0  # octaves of sin/cos position features per state (0: none; see SkipX0Denoiser)

    def __post_init__(self) -> None:
        if self.net not in ("transformer", "unet"):
            raise ValueError(f"unknown planner net {self.net!r}; expected 'transformer' or 'unet'")
        if self.inpaint not in ("none", "start", "start_goal"):
            raise ValueError(f"unknown inpaint {self.inpaint!r}; expected none|start|start_goal")
        if self.token_size < 1 or self.unet_levels < 1:
            raise ValueError("token_size and unet_levels must be at least 1")
        if not 0 <= self.fourier <= MAX_OCTAVES:
            raise ValueError(f"fourier must lie in [0, {MAX_OCTAVES}], got {self.fourier}")

    @property
    def horizon(self) -> int:
        return self.plan_steps or HORIZON[self.maze]

    @property
    def n_states(self) -> int:
        if self.horizon % self.every:
            raise ValueError(f"plan_steps {self.horizon} is not a multiple of every={self.every}")
        return self.horizon // self.every

    @property
    def n_tokens(self) -> int:
        if self.n_states % self.token_size:
            raise ValueError(
                f"{self.n_states} states do not split into tokens of {self.token_size}"
            )
        return self.n_states // self.token_size

    @property
    def first_state(self) -> int:
        """Index (in env steps / every) of the plan's first state: 0 with inpainting, else 1."""
        return 0 if self.inpaint != "none" else 1

    @property
    def token_dim(self) -> int:
        return 2 * self.token_size

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlannerArch:
        """The fields of ``d`` that are architecture fields (a legacy full config works too)."""
        return cls(**_known(cls, d))


@dataclass(frozen=True)
class PlannerTraining:
    """The training run of a planner (the loop itself lives in the trainer app)."""

    pyramid_frac: float = 0.0  # fraction of training rows with pyramid-shaped noise levels
    sample_levels: int = 50  # the inference grid those pyramid rows are drawn on
    # "x0": ||x0_hat - x0||² (v-error weighted by 1 - abar: low noise levels barely trained);
    # "v": ||x0_hat - x0||² / (1 - abar), the network's own (v) error unweighted
    loss_weight: str = "x0"
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none)
    steps: int = 3000
    batch_size: int = 64
    lr: float = 1e-3
    warmup: int = 100
    seed: int = 0
    data_episodes: int = 400
    data_steps: int = 1000
    data_seed: int = 0
    data_goals: str = "junctions"  # the navigate data's goal cells: "junctions" or "cells"
    data_oracle: str = "centre"  # the data oracle's target: "centre" or "doorway" (maze.data)
    checkpoint_every: int = 500

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PlannerTraining:
        """The fields of ``d`` that are training fields (a legacy full config works too)."""
        return cls(**_known(cls, d))


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in d.items() if k in names}


class PlanCodec:
    """Maps world-frame state sequences (.., S, 2) to normalised tokens (.., N, token_dim)."""

    def __init__(self, cfg: PlannerArch) -> None:
        maze = MazeMap.load(cfg.maze)
        h, w = maze.shape
        self.centre = cell_to_xy(np.array([(h - 1) / 2, (w - 1) / 2])).astype(np.float32)
        self.scale = float(cfg.pos_scale or 2 * max(h, w))
        self.cfg = cfg

    def normalise(self, p: np.ndarray | torch.Tensor) -> Any:
        c = self.centre if isinstance(p, np.ndarray) else torch.as_tensor(self.centre)
        return (p - c) / self.scale

    def world(self, u: np.ndarray | torch.Tensor) -> Any:
        c = (
            self.centre
            if isinstance(u, np.ndarray)
            else torch.as_tensor(self.centre, device=u.device)
        )
        return u * self.scale + c

    def to_tokens(self, u: torch.Tensor) -> torch.Tensor:
        """(.., S, 2) normalised states -> (.., S / token_size, 2·token_size)."""
        return u.reshape(*u.shape[:-2], -1, self.cfg.token_dim)

    def to_states(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(*x.shape[:-2], -1, 2)

    def plan_tokens(self, states: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """Normalised plan states (B, S, 2) from normalised starts (B, 2) -> plan tokens."""
        if self.cfg.relative:
            states = states - start[:, None, :]
        return self.to_tokens(states)

    def plan_states(self, x: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """Plan tokens (B, N, D) -> normalised absolute states (B, S, 2); inverse of plan_tokens."""
        states = self.to_states(x)
        return states + start[:, None, :] if self.cfg.relative else states

    def known(self) -> torch.Tensor:
        """(N, D) bool: the token entries that inpainting writes (none without inpainting)."""
        mask = torch.zeros(self.cfg.n_states, 2, dtype=torch.bool)
        if self.cfg.inpaint != "none":
            mask[0] = True
        if self.cfg.inpaint == "start_goal":
            mask[-1] = True
        return self.to_tokens(mask)

    def inpaint(self, x: torch.Tensor, start: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """Plan tokens (B, N, D) with the known states written in (normalised starts / goals
        (B, 2)): state 0 = start, and with "start_goal" the last state = goal."""
        if self.cfg.inpaint == "none":
            return x
        states = self.to_states(x).clone()
        origin = start if self.cfg.relative else torch.zeros_like(start)
        states[:, 0] = start - origin
        if self.cfg.inpaint == "start_goal":
            states[:, -1] = goal - origin
        return self.to_tokens(states)

    def context(self, start: torch.Tensor) -> torch.Tensor:
        """Normalised starts (B, 2) -> clean context tokens (B, 1, token_dim)."""
        return (
            start[:, None, :].repeat(1, self.cfg.token_size, 1).reshape(-1, 1, self.cfg.token_dim)
        )


class SkipX0Denoiser(nn.Module):
    """x0 prediction with a skip connection (EDM-style preconditioning of the x0 predictor):

    x0_hat(x_t, t) = sqrt(abar_t)·x_t + sqrt(1 - abar_t)·F(x_t, t), per token, F the shared
    transformer denoiser. Near-clean tokens pass through almost exactly (a small network learns the
    identity badly), noisy ones are predicted by F; the training loss is still ||x0_hat - x0||².

    With ``anchor`` the same skip form acts on offsets from an anchor A_n, the left neighbour's
    last state scaled by sqrt(abar) of its level (the start itself for the first plan token, ~0
    for a pure-noise neighbour): x0_hat = A + sqrt(abar)·(x_t - sqrt(abar)·A) + sqrt(1 - abar)·F,
    so a token continuing its clean predecessor is the network's default rather than a position
    it has to copy across the attention layers.

    With ``fourier`` = K each token's input also carries sin / cos features of its states at K
    octaves (``position_features`` of x_t / sqrt(abar), the level's estimate of the clean states),
    scaled by abar, the share of x_t's variance that is signal: a network reads the walls' sharp
    layout from these sooner than from raw coordinates (Fourier features, Tancik et al., 2020),
    and at high noise, where they would be pure noise, they fade to zero.

    With ``neighbour`` each token's input also carries its left neighbour's tokens and level
    (token 0's neighbour is the context): [x_n, x_{n-1}, t_{n-1}/T]. A small transformer trained
    briefly on CPU otherwise never learns that a token must continue from its predecessor (its
    samples jump at every token boundary); attention still mixes all tokens.
    """

    abar: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        alphas_cumprod: torch.Tensor,
        neighbour: bool = True,
        anchor: bool = False,
        fourier: int = 0,
    ) -> None:
        super().__init__()
        self.net, self.neighbour, self.anchor, self.fourier = net, neighbour, anchor, fourier
        self.register_buffer("abar", alphas_cumprod.to(torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=x.device).expand(x.shape[:2])
        ab = self.abar[t.clamp_min(0)][..., None]
        inp = x
        if self.fourier:
            feats = position_features(x / ab.sqrt(), self.fourier)
            inp = torch.cat([x, ab * feats], dim=-1)
        if self.neighbour:
            prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
            t_prev = torch.cat([t[:, :1], t[:, :-1]], dim=1).clamp_min(0)
            level = (t_prev.to(x.dtype) / len(self.abar))[..., None]
            inp = torch.cat([inp, prev, level], dim=-1)
        out = self.net(inp, t)[..., : x.shape[-1]]
        if not self.anchor:
            return ab.sqrt() * x + (1 - ab).sqrt() * out
        a = self.anchors(x, t)
        return a + ab.sqrt() * (x - ab.sqrt() * a) + (1 - ab).sqrt() * out

    def anchors(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """(B, N, D): token n's anchor, sqrt(abar) of token n-1's level times its last (x, y)
        state, repeated over the token's states (token 0 anchors on itself)."""
        prev = torch.cat([x[:, :1], x[:, :-1]], dim=1)
        t_prev = torch.cat([t[:, :1], t[:, :-1]], dim=1).clamp_min(0)
        last = prev[..., -2:] * self.abar[t_prev][..., None].sqrt()
        return last.repeat(1, 1, x.shape[-1] // 2)


def position_features(u: torch.Tensor, octaves: int) -> torch.Tensor:
    """(.., D) normalised coordinates -> (.., 2·D·octaves): sin and cos of 2π·u / period for the
    periods 2^(3 - k), k < octaves (8, 4, 2, 1, 0.5, 0.25 units; with pos_scale 4 a unit is a
    cell, so the coarsest octave tells the maze's halves apart and the finest a cell's quarters)."""
    periods = 2.0 ** (3 - torch.arange(octaves, dtype=u.dtype, device=u.device))
    angle = (2 * math.pi) * u[..., None] / periods
    return torch.cat([angle.sin(), angle.cos()], dim=-1).flatten(-2)


def build_model(cfg: PlannerArch) -> SkipX0Denoiser:
    """The shared transformer or temporal U-Net denoiser (one noise level per token) as an x0
    predictor."""
    if cfg.anchor and cfg.relative:
        raise ValueError("anchor and relative exclude each other: anchors are absolute states")
    in_dim = cfg.token_dim * (1 + 2 * cfg.fourier) + (cfg.token_dim + 1 if cfg.neighbour else 0)
    net: nn.Module
    if cfg.net == "transformer":
        net = TransformerDenoiser(
            in_dim,
            d_model=cfg.d_model,
            n_heads=cfg.n_heads,
            n_layers=cfg.n_layers,
            max_len=cfg.n_tokens + 1,
        )
    else:
        channels = tuple(cfg.d_model * 2**i for i in range(cfg.unet_levels))
        net = UNet1D(in_dim, channels=channels, emb_dim=cfg.d_model)
    return SkipX0Denoiser(
        net, make_scheduler(cfg).alphas_cumprod, cfg.neighbour, cfg.anchor, cfg.fourier
    )


def add_fourier_inputs(base: SkipX0Denoiser, model: SkipX0Denoiser) -> None:
    """Load transformer planner ``base`` (no position features) into ``model``, the same network
    with ``fourier`` > 0: the feature inputs get zero weights (and their unused output rows
    zeros), so ``model`` starts as exactly ``base``'s function and training adds the features
    (a function-preserving widening, as in Net2Net). Raises ValueError for anything else."""
    if base.fourier or not model.fourier or not isinstance(model.net, TransformerDenoiser):
        raise ValueError("add_fourier_inputs grows a transformer planner without features")
    old, new = base.state_dict(), model.state_dict()
    if old.keys() != new.keys():
        raise ValueError("the planners differ in more than their position features")
    width = new["net.inp.weight"].shape[1] - old["net.inp.weight"].shape[1]
    k = width // (2 * model.fourier)  # the token's own inputs come first, then the features
    grown = {}
    for key, value in old.items():
        shape = new[key].shape
        if key == "net.inp.weight" and shape[1] == value.shape[1] + width:
            zeros = value.new_zeros(len(value), width)
            grown[key] = torch.cat([value[:, :k], zeros, value[:, k:]], dim=1)
        elif key.startswith("net.out.1.") and shape[0] == value.shape[0] + width:
            grown[key] = torch.cat([value, value.new_zeros(width, *value.shape[1:])])
        elif value.shape == shape:
            grown[key] = value
        else:
            raise ValueError(f"the planners differ in {key}: {tuple(value.shape)} / {tuple(shape)}")
    model.load_state_dict(grown)


def make_scheduler(cfg: PlannerArch) -> DDIMScheduler:
    """Linear betas over ``train_timesteps`` levels, x0 prediction, deterministic DDIM."""
    return DDIMScheduler(
        num_train_timesteps=cfg.train_timesteps, beta_schedule="linear", prediction_type="x0"
    )


def count_params(model: torch.nn.Module) -> int:
    return sum(int(math.prod(p.shape)) for p in model.parameters())
