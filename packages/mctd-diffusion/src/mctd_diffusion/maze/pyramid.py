"""Batched, guided DDIM over plan tokens with per-token noise levels (Diffusion Forcing).

Levels k = 0..L index the DDIM grid (k = L pure noise, k = 0 clean). The pyramid schedule puts
token n (0-based) at level k(m, n) = clip(L + n - m, 0, L) in row m = 0..M, M = L + N - 1:
earlier tokens become clean first. Moving a batch from row m to row m' (m' - m = 1 for a node
expansion, C for "jumpy" simulation) is one network call, each element with its own rows and its
own guidance scale s.

Guidance: J(x0) = -(gain/token_size)·Σ_states ||p - g|| on the plan implied by x_t (clean tokens as
they are, noisy ones through the network's x0), and (DPS / classifier-style, as in the Diffusion
Forcing code) eps' = eps - s·sqrt(1 - abar_t)·∇_{x_t} J, i.e.
x0' = x0 + s·(1 - abar_t)/sqrt(abar_t)·∇J; then DDIM(eta = 0):
x_p = sqrt(abar_p)·x0' + sqrt(1 - abar_p)·eps'. A guided call costs a forward and a
backward pass (NFE 2 per element), an unguided one NFE 1.

With ``project_walls`` every x0 prediction is clipped to the maze's free space before the DDIM
step (a state inside a wall cell or off the map moves to the nearest point of a free cell,
``WALL_MARGIN`` inside it; eps is re-derived from the clipped x0, as diffusers' ``clip_sample``
does), the maze analogue of clipping x0 to the data range. With ``max_step`` > 0 the decoded
plan (given its start) is repaired so no state moves more than ``max_step`` from its predecessor
(p'_k = p'_{k-1} + clip_norm(p_k - p'_{k-1}, max_step): a state past the limit is reached at the
limit's speed, then its successors are chased). Both are off by default; with both on, the value
function's warp / wall checks can no longer fail on a sampled plan, only on the goal test.
A planner trained with inpainting (``PlannerArch.inpaint``) gets its known states (the start,
and with "start_goal" the goal) written into x_t before and after every step and into every x0
prediction, as Diffuser's ``apply_conditioning`` does.
"""

from __future__ import annotations

import numpy as np
import torch
from mctd_tree import Counters
from torch import nn

from mctd_diffusion.guidance import guided_prediction, objective_grad
from mctd_diffusion.maze.maps import CELL, MazeMap
from mctd_diffusion.maze.planner import PlanCodec, PlannerArch, make_scheduler
from mctd_diffusion.parameterisation import to_x0_eps

WALL_MARGIN = 0.1
# the guidance unit, calibrated on the medium maze's d 128 planner (`maze_plan_stats.py --gains`,
# the package README): the top meta-action (s = 2, s·gain 0.5) is the strongest pull that still
# leaves valid plans
GUIDANCE_GAIN = 0.25
_NEIGHBOURHOOD = torch.tensor([(di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1)])


def project_free(maze: MazeMap, p: torch.Tensor, margin: float = WALL_MARGIN) -> torch.Tensor:
    """World-frame points (..., 2) with those in a wall cell or off the map moved to the nearest
    point of a free cell among the 3 x 3 cells around them (shrunk by ``margin``); points already
    in a free cell are returned unchanged."""
    h, w = maze.shape
    grid = torch.as_tensor(maze.grid)
    lo = torch.tensor([-6.0 + margin, -6.0 + margin], dtype=p.dtype)
    hi = torch.tensor([CELL * w - 6.0 - margin, CELL * h - 6.0 - margin], dtype=p.dtype)
    q = torch.minimum(torch.maximum(p, lo), hi)
    ij = torch.floor((q.flip(-1) + 6.0) / CELL).long()  # (..., 2) as (i, j)
    cand = ij[..., None, :] + _NEIGHBOURHOOD  # (..., 9, 2)
    ci, cj = cand[..., 0].clamp(0, h - 1), cand[..., 1].clamp(0, w - 1)
    free = (grid[ci, cj] == 0) & (ci == cand[..., 0]) & (cj == cand[..., 1])
    x0, y0 = CELL * cj - 6.0 + margin, CELL * ci - 6.0 + margin
    x1, y1 = x0 + CELL - 2 * margin, y0 + CELL - 2 * margin
    px = torch.minimum(torch.maximum(q[..., None, 0], x0), x1)
    py = torch.minimum(torch.maximum(q[..., None, 1], y0), y1)
    d = (px - q[..., None, 0]) ** 2 + (py - q[..., None, 1]) ** 2
    d = torch.where(free, d, torch.inf)
    best = d.argmin(dim=-1, keepdim=True)
    moved = torch.stack([px.gather(-1, best)[..., 0], py.gather(-1, best)[..., 0]], dim=-1)
    own_free = free[..., 4][..., None] & (q == p).all(dim=-1, keepdim=True)
    has = torch.isfinite(d).any(dim=-1, keepdim=True)
    return torch.where(own_free | ~has, torch.where(has, p, q), moved)


class PlanDenoiser:
    """A trained planner network plus its DDIM grid; counts NFE and sequential calls."""

    def __init__(
        self,
        model: nn.Module,
        cfg: PlannerArch,
        levels: int = 50,
        guidance_gain: float = GUIDANCE_GAIN,
        project_walls: bool = False,
        max_step: float = 0.0,
    ) -> None:
        """``guidance_gain`` sets the unit of the guidance scales (default: ``GUIDANCE_GAIN``)."""
        self.model, self.cfg, self.levels = model.eval(), cfg, levels
        self.guidance_gain = guidance_gain
        self.project_walls, self.max_step = project_walls, max_step
        self.maze = MazeMap.load(cfg.maze)
        self.codec = PlanCodec(cfg)
        self.scheduler = make_scheduler(cfg)
        self.scheduler.set_timesteps(levels)
        ts = self.scheduler.timesteps.flip(0)  # ascending; level k >= 1 -> ts[k - 1]
        self._t_of_level = torch.cat([torch.tensor([-1]), ts]).long()
        self.n_tokens = cfg.n_tokens
        self.last_row = levels + self.n_tokens - 1
        self.counters = Counters()

    # ----------------------------------------------------------------- schedules
    def pyramid_levels(self, rows: torch.Tensor) -> torch.Tensor:
        """k(m, n) = clip(L + n - m, 0, L) for rows (B,) -> (B, N)."""
        n = torch.arange(self.n_tokens)
        return (self.levels + n[None, :] - rows[:, None]).clamp(0, self.levels)

    def noise(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        """Fresh x at level L for every token: N(0, I) from the numpy generator."""
        shape = (batch, self.n_tokens, self.cfg.token_dim)
        return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))

    # ------------------------------------------------------------------ the step
    def transition(
        self,
        x: torch.Tensor,
        start: torch.Tensor,
        goal: torch.Tensor,
        k_from: torch.Tensor,
        k_to: torch.Tensor,
        scales: torch.Tensor,
    ) -> torch.Tensor:
        """One batched DDIM move (``scheduler.step`` with per-token timesteps) of every token from
        level k_from to k_to (B, N), guided by :meth:`objective` at scales s (B,).

        ``start`` and ``goal`` are normalised (B, 2). Tokens with k_to == k_from are unchanged.
        """
        b = x.shape[0]
        x = self.codec.inpaint(x, start, goal)
        t_from, t_to = self._t_of_level[k_from], self._t_of_level[k_to]
        t_in = torch.cat([torch.zeros(b, 1, dtype=torch.long), t_from.clamp_min(0)], dim=1)
        clean = (k_from == 0)[..., None]
        context = self.codec.context(start)

        def predict(xt: torch.Tensor) -> tuple[torch.Tensor, None]:
            x0 = self.model(torch.cat([context, xt], dim=1), t_in)[:, 1:]
            return self.codec.inpaint(torch.where(clean, xt, x0), start, goal), None

        guided = bool((scales > 0).any())
        if guided:
            x0, _, grad = objective_grad(predict, x, lambda x0: self.objective(x0, start, goal))
        else:
            with torch.no_grad():
                x0 = predict(x)[0]
        if self.project_walls:
            states = self.codec.world(self.codec.plan_states(x0, start))
            free = self.codec.normalise(project_free(self.maze, states))
            proj = self.codec.plan_tokens(free, start)
            x0 = self.codec.inpaint(torch.where(clean, x0, proj.to(x0.dtype)), start, goal)
        pred = x0
        if guided:
            ab_t = self.scheduler.abar(t_from, x)
            _, eps = to_x0_eps(x0, x, ab_t, "x0")
            s = scales.to(x.dtype)[:, None, None]
            pred = guided_prediction(eps, x, ab_t, grad, s, "x0")
        out = self.scheduler.step(pred, t_from, x, prev_timestep=t_to, noise=torch.zeros_like(x))
        self.counters.calls += 1
        self.counters.nfe += int(b + (scales > 0).sum())
        return self.codec.inpaint(out.prev_sample.detach(), start, goal)

    def objective(self, x0: torch.Tensor, start: torch.Tensor, goal: torch.Tensor) -> torch.Tensor:
        """The guidance objective on x0 (B, N, D): J = -(gain/token_size)·Σ_states ||p - g||."""
        states = self.codec.plan_states(x0, start)
        dist = torch.linalg.vector_norm(states - goal[:, None, :], dim=-1)
        return -self.guidance_gain * dist.sum(dim=1) / self.cfg.token_size

    def endpoints(
        self, start: np.ndarray, goal: np.ndarray, batch: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """World-frame ``start`` and ``goal`` (2,) -> normalised (batch, 2) tensors."""
        s = torch.as_tensor(self.codec.normalise(np.asarray(start, np.float32)))
        g = torch.as_tensor(self.codec.normalise(np.asarray(goal, np.float32)))
        return s.expand(batch, 2), g.expand(batch, 2)

    def default_warp(self, factor: float = 1.0) -> float:
        """The paper's warp threshold of the value check (1.0 dense, 2.0 sparse), times
        ``factor``."""
        return factor * (1.0 if self.cfg.every == 1 else 2.0)

    def advance(
        self,
        x: torch.Tensor,
        start: torch.Tensor,
        goal: torch.Tensor,
        rows: torch.Tensor,
        target: torch.Tensor,
        scales: torch.Tensor,
        jump: int = 1,
    ) -> torch.Tensor:
        """Move each element along the pyramid from ``rows`` to ``target`` (B,), ``jump`` rows per
        call (1 = the exact schedule, C = jumpy DDIM); elements already there sit out."""
        x, cur = x.clone(), rows.clone().long()
        target = target.clamp(max=self.last_row).long()
        while bool((cur < target).any()):
            act = torch.nonzero(cur < target).flatten()
            nxt = torch.minimum(cur[act] + jump, target[act])
            x[act] = self.transition(
                x[act],
                start[act],
                goal[act],
                self.pyramid_levels(cur[act]),
                self.pyramid_levels(nxt),
                scales[act],
            )
            cur[act] = nxt
        return x

    def full_sequence(
        self, x: torch.Tensor, start: torch.Tensor, goal: torch.Tensor, scales: torch.Tensor
    ) -> torch.Tensor:
        """Diffuser-like one-shot denoising: all tokens share the level, L -> 0 in L calls."""
        for k in range(self.levels, 0, -1):
            k_from = torch.full(x.shape[:2], k, dtype=torch.long)
            x = self.transition(x, start, goal, k_from, k_from - 1, scales)
        return x

    def decode(self, x: torch.Tensor, start: np.ndarray) -> np.ndarray:
        """Tokens (B, N, D) of plans from ``start`` (world (2,)) -> world-frame plans (B, S, 2),
        repaired when ``max_step`` > 0 (see the module docstring)."""
        start_u = torch.as_tensor(self.codec.normalise(np.asarray(start, np.float32)))
        states = self.codec.plan_states(x, start_u.expand(x.shape[0], 2))
        plans = self.codec.world(states).numpy().astype(np.float64)
        if self.max_step > 0:
            plans = limit_steps(plans, start, self.max_step)
            if self.project_walls:
                plans = project_free(self.maze, torch.from_numpy(plans)).numpy()
        return plans


def limit_steps(plans: np.ndarray, start: np.ndarray, max_step: float) -> np.ndarray:
    """(B, S, 2) plans with every move from the predecessor (``start`` first) clipped to norm
    ``max_step``."""
    out = np.empty_like(plans)
    prev = np.broadcast_to(np.asarray(start, np.float64), plans[:, 0].shape)
    for k in range(plans.shape[1]):
        d = plans[:, k] - prev
        n = np.linalg.norm(d, axis=-1, keepdims=True)
        prev = prev + d * np.minimum(1.0, max_step / np.maximum(n, 1e-12))
        out[:, k] = prev
    return out
