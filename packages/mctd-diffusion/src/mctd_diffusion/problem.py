"""Sampling from a diffusion model as a tree-search problem (Diffusion Tree Sampling).

A node is one batch element's partially denoised x_t and the number of inference steps taken
(``step``; the root has no x yet: its children draw x_T ~ N(0, I)). Children advance
``branch_every`` steps of a stochastic scheduler (DDPM, or DDIM with eta > 0), so the tree branches
on a coarse schedule. All methods are batched: every denoising step is one network call for all
states together, whatever their timesteps. NFE = network evaluations per batch element (a guided
call counts 2: forward and backward; a classifier-free-guided call 2: conditional and "no class"
rows); calls = sequential batched network calls; ``flops`` = the denoiser's FLOPs as run
(``compute.FlopMeter``; a reward-guided call counts its backward as 2x the forward, the usual
estimate; the reward network's own work is not counted, as for NFE).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from mctd_tree import Child, Counters, Rollout
from mctd_tree.errors import UserError
from torch import nn

from mctd_diffusion.compute import ClassifierFreeGuidance, FlopMeter
from mctd_diffusion.guidance import TorchReward, guided_step
from mctd_diffusion.schedulers import DDIMScheduler, Scheduler, SchedulerOutput


@dataclass(frozen=True, eq=False)
class DiffusionState:
    """x_t of one element (None at the root), steps taken, and the model's last x0 estimate."""

    x: np.ndarray | None
    step: int
    x0_hat: np.ndarray | None = None


class DenoisingProblem:
    """A ``mctd_tree.SamplingProblem`` over the reverse chain of ``model`` under ``scheduler``."""

    def __init__(
        self,
        model: nn.Module,
        scheduler: Scheduler,
        reward: TorchReward,
        *,
        sample_shape: tuple[int, ...],
        num_steps: int,
        branch_every: int,
        guidance_scale: float = 0.0,
        guidance_max_norm: float | None = 10.0,
        cond: torch.Tensor | None = None,
        guide_cond: torch.Tensor | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        if num_steps < 1 or branch_every < 1:
            raise ValueError(
                f"num_steps and branch_every must be >= 1, got {num_steps}, {branch_every}"
            )
        if isinstance(scheduler, DDIMScheduler) and scheduler.eta == 0:
            raise ValueError("tree search needs stochastic children: use DDPM or DDIM with eta > 0")
        self.model, self.scheduler, self.reward = model.eval(), scheduler, reward
        self.sample_shape, self.num_steps, self.branch_every = (
            tuple(sample_shape),
            num_steps,
            branch_every,
        )
        self.guidance_scale, self.guidance_max_norm = guidance_scale, guidance_max_norm
        self.cond, self.guide_cond, self.device = cond, guide_cond, torch.device(device)
        scheduler.set_timesteps(num_steps)
        ts = scheduler.timesteps.tolist()
        self._t = np.array([*ts, -1], dtype=np.int64)  # timestep before step i; -1 = clean
        self.counters = Counters()
        self._flops = [0]  # shared with with_guidance / with_cfg copies, like the counters
        self._next_action = 0
        self._check_model()

    def with_guidance(self, scale: float) -> DenoisingProblem:
        """The same problem (model, scheduler, reward, counters shared) guided at ``scale``."""
        guided = copy.copy(self)
        guided.guidance_scale = scale
        return guided

    def with_cfg(self, scale: float) -> DenoisingProblem:
        """The same problem sampled with classifier-free guidance toward ``guide_cond`` at
        ``scale`` (``cond`` stays the "no class" input); 2 NFE per element and step. Shares the
        counters and the FLOP count."""
        if self.guide_cond is None:
            raise UserError(
                "classifier-free guidance needs a class to steer toward: build the problem with "
                "guide_cond (e.g. the target class one-hot) and a class-conditional model"
            )
        guided = copy.copy(self)
        guided.model = ClassifierFreeGuidance(self.model, self.guide_cond, scale)
        guided._check_model()
        return guided

    @property
    def flops(self) -> int:
        """The denoiser FLOPs this problem (and its guided copies) ran so far."""
        return self._flops[0]

    # --- protocol ---------------------------------------------------------------------------
    def root(self) -> DiffusionState:
        return DiffusionState(None, 0)

    def is_terminal(self, state: DiffusionState) -> bool:
        return state.step >= self.num_steps

    def sample(self, states: Sequence[DiffusionState], rng: np.random.Generator) -> list[Child]:
        """One child per state: ``branch_every`` stochastic steps (fewer before the end)."""
        if any(self.is_terminal(s) for s in states):
            raise ValueError("cannot sample a child of a terminal state")
        return self._advance(states, [self.next_branch(s.step) for s in states], rng)

    def rollout(self, states: Sequence[DiffusionState], rng: np.random.Generator) -> list[Rollout]:
        """Complete every state with p_theta; the path lists each branch-point state reached."""
        paths: list[list[Child]] = [[] for _ in states]
        cur = list(states)
        while live := [i for i, s in enumerate(cur) if not self.is_terminal(s)]:
            kids = self._advance(
                [cur[i] for i in live], [self.next_branch(cur[i].step) for i in live], rng
            )
            for i, kid in zip(live, kids, strict=True):
                paths[i].append(kid)
                cur[i] = kid.state
        rewards = self.rewards(cur)
        return [Rollout(p, float(r), s) for p, r, s in zip(paths, rewards, cur, strict=True)]

    # --- helpers ----------------------------------------------------------------------------
    def next_branch(self, step: int) -> int:
        """The next branch point after ``step``: a multiple of ``branch_every`` or the end."""
        return min((step // self.branch_every + 1) * self.branch_every, self.num_steps)

    def timestep(self, step: int) -> int:
        """The timestep a state that has taken ``step`` steps is at (-1 = clean)."""
        return int(self._t[step])

    def advance(
        self, states: Sequence[DiffusionState], targets: Sequence[int], rng: np.random.Generator
    ) -> list[Child]:
        """Denoise each state up to its target step (one batched network call per step)."""
        return self._advance(states, targets, rng)

    def rewards(self, states: Sequence[DiffusionState]) -> np.ndarray:
        """r(x_0) of terminal states, batched (reward calls are not counted as NFE)."""
        if not all(self.is_terminal(s) for s in states):
            raise ValueError(
                "rewards are defined on terminal states; use values() for partial ones"
            )
        return self._score([_x(s) for s in states])

    def values(self, states: Sequence[DiffusionState]) -> np.ndarray:
        """Value estimate r(x0_hat) from the last network call (r(x) at terminals, 0 at root)."""
        out = np.zeros(len(states))
        idx = [i for i, s in enumerate(states) if s.x0_hat is not None or self.is_terminal(s)]
        if idx:
            out[idx] = self._score([_x(states[i], self.is_terminal(states[i])) for i in idx])
        return out

    def to_array(self, states: Sequence[DiffusionState]) -> np.ndarray:
        """Stack the x of states into one array (n, *sample_shape)."""
        return np.stack([_x(s) for s in states])

    def _score(self, xs: Sequence[np.ndarray]) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(np.stack(xs)).to(self.device)
            r = self.reward(x).double().cpu().numpy()
        bad = ~np.isfinite(r)
        if bad.any():
            raise UserError(
                f"the reward returned {r[bad][0]} for {int(bad.sum())} of {r.size} samples; "
                "a reward must be a finite number for every sample"
            )
        return r

    def _check_model(self) -> None:
        x = torch.zeros((1, *self.sample_shape), device=self.device)
        with torch.no_grad():
            out = self.model(
                x, torch.full((1,), int(self._t[0]), device=self.device), self._cond(1)
            )
        if out.shape != x.shape:
            raise ValueError(
                f"model maps {tuple(x.shape)} to {tuple(out.shape)}; shapes must match"
            )
        t = torch.full((1,), int(self._t[0]), device=self.device)
        self._meter = FlopMeter(self.model, x, t, self._cond(1))

    def _cond(self, n: int) -> torch.Tensor | None:
        return None if self.cond is None else self.cond.expand(n, *self.cond.shape[1:])

    def _advance(
        self, states: Sequence[DiffusionState], targets: Sequence[int], rng: np.random.Generator
    ) -> list[Child]:
        """Denoise each state up to its target step; one batched network call per step."""
        n, d = len(states), math.prod(self.sample_shape)
        x = np.empty((n, *self.sample_shape), dtype=np.float32)
        x0 = [s.x0_hat for s in states]
        logp = np.zeros(n)
        for i, s in enumerate(states):
            if s.x is None:
                x[i] = rng.standard_normal(self.sample_shape)
                logp[i] = -0.5 * float((x[i].astype(np.float64) ** 2).sum()) - 0.5 * d * math.log(
                    2 * math.pi
                )
            else:
                x[i] = s.x
        step = np.array([s.step for s in states], dtype=np.int64)
        target = np.asarray(targets, dtype=np.int64)
        while (act := np.flatnonzero(step < target)).size:
            noise = rng.standard_normal((act.size, *self.sample_shape)).astype(np.float32)
            out = self._network_step(x[act], step[act], noise)
            x[act] = out.prev_sample.detach().cpu().numpy()
            x0_act = out.pred_original_sample.detach().cpu().numpy()
            std = out.std.detach().cpu().double().numpy().reshape(act.size, -1)
            std = np.broadcast_to(std, (act.size, d))
            z2 = (noise.astype(np.float64).reshape(act.size, -1) ** 2).sum(1)
            logp[act] += (
                -0.5 * z2
                - np.log(np.where(std > 0, std, 1.0)).sum(1)
                - 0.5 * d * math.log(2 * math.pi)
            )
            for j, row in enumerate(act):
                x0[row] = x0_act[j]
            step[act] += 1
        children = []
        for i in range(n):
            state = DiffusionState(x[i].copy(), int(step[i]), x0[i])
            children.append(Child(self._fresh_action(), state, float(logp[i])))
        return children

    def _network_step(self, x: np.ndarray, step: np.ndarray, noise: np.ndarray) -> SchedulerOutput:
        xt = torch.from_numpy(x).to(self.device)
        t = torch.from_numpy(self._t[step]).to(self.device)
        p = torch.from_numpy(self._t[step + 1]).to(self.device)
        z = torch.from_numpy(noise).to(self.device)
        self.counters.calls += 1
        evals = int(getattr(self.model, "evals_per_call", 1))
        mark = self._meter.mark()
        if self.guidance_scale:
            self.counters.nfe += 2 * evals * len(x)
            out = guided_step(
                self.model,
                self.scheduler,
                xt,
                t,
                self.reward,
                self.guidance_scale,
                prev_timestep=p,
                cond=self._cond(len(x)),
                noise=z,
                max_grad_norm=self.guidance_max_norm,
            )
            self._flops[0] += 3 * self._meter.since(mark, len(x))  # backward ~ 2x forward
            return out
        self.counters.nfe += evals * len(x)
        with torch.no_grad():
            pred = self.model(xt, t, self._cond(len(x)))
            self._flops[0] += self._meter.since(mark, len(x))
            return self.scheduler.step(pred, t, xt, prev_timestep=p, noise=z)

    def _fresh_action(self) -> int:
        self._next_action += 1
        return self._next_action


def _x(state: DiffusionState, terminal: bool = True) -> np.ndarray:
    """The state's x (or, for a partial state, its x0 estimate); an error at the root."""
    x = state.x if terminal else state.x0_hat
    if x is None:
        raise ValueError("the root state has no sample yet")
    return x
