"""The complexity budget: a Fast-MCTD-style parallel tree search whose rollouts are cheap.

Fast-MCTD spends little on simulations (jumpy, sparse) and full compute on the plan it commits.
Here a denoising tree is searched with UCT over stochastic children (progressive widening
C N^alpha), K leaves per batched iteration with virtual visits and delayed backup (P-MCTD,
``mctd_tree``'s engine), and:

- **committed steps** (drawing a child: ``branch_every`` denoising steps that become tree nodes,
  and so the returned samples) run the denoiser at full capacity;
- **rollouts** (completing a leaf to score it; value estimates only, never kept in the tree) run
  at capacity ``rollout_capacity(budget)`` = min(1, budget / 2): budget 0.5 -> 0.25, 1.0 -> 0.5,
  1.5 -> 0.75, >= 2 -> full everywhere. With ``by_noise=True`` the rollout capacity also falls
  with the noise level: capacity(s) = rollout_capacity · (0.5 + 0.5 · s) at noise fraction
  s = t / T (coarse, high-noise steps get more, fine steps less).

The capacity knob is any module's ``set_capacity`` (the MoR UNet); a model without one runs at
full cost, so the FLOPs (``DenoisingProblem.flops``, counted as run) show what a budget saved.
Samples are the committed terminals of the tree, best reward first (at most ``n_out``); if the
budget ran out before any path was committed to the end, the most visited path is completed at
full capacity (counted).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from mctd_tree import Budget, Counters, Rollout, SearchConfig, TreeSearch
from mctd_tree.algorithms import backup_rule, selection_rule
from mctd_tree.errors import UserError
from mctd_tree.search import check_widening

from mctd_diffusion.compute import capacity
from mctd_diffusion.problem import DenoisingProblem, DiffusionState

PRESETS = {"fast": 0.5, "balanced": 1.0, "quality": 1.5}  # the Fast-MCTD guide's examples


def check_budget(budget: float) -> float:
    """`UserError` unless the complexity budget is a finite number > 0."""
    ok = isinstance(budget, int | float) and not isinstance(budget, bool)
    if not ok or not math.isfinite(budget) or budget <= 0:
        raise UserError(f"the complexity budget must be a finite number > 0, got {budget!r}")
    return float(budget)


def rollout_capacity(budget: float) -> float:
    """Capacity of rollout steps under a complexity budget: min(1, budget / 2)."""
    return min(1.0, check_budget(budget) / 2.0)


@dataclass
class CheapRollouts:
    """A `DenoisingProblem` seen by the tree search: full-capacity children, cheap rollouts
    whose paths are dropped (value estimates, not tree nodes)."""

    problem: DenoisingProblem
    budget: float
    by_noise: bool = False

    @property
    def counters(self) -> Counters:
        return self.problem.counters

    def root(self) -> DiffusionState:
        return self.problem.root()

    def is_terminal(self, state: DiffusionState) -> bool:
        return self.problem.is_terminal(state)

    def sample(self, states: Sequence[DiffusionState], rng: np.random.Generator) -> list[Any]:
        with capacity(self.problem.model, 1.0):
            return self.problem.sample(states, rng)

    def rollout(
        self, states: Sequence[DiffusionState], rng: np.random.Generator
    ) -> list[Rollout[DiffusionState]]:
        cap = rollout_capacity(self.budget)
        if not self.by_noise:
            with capacity(self.problem.model, cap):
                outs = self.problem.rollout(states, rng)
        else:
            outs = self._rollout_by_noise(states, rng, cap)
        return [Rollout([], o.reward, o.terminal, o.info) for o in outs]

    def _rollout_by_noise(
        self, states: Sequence[DiffusionState], rng: np.random.Generator, cap: float
    ) -> list[Rollout[DiffusionState]]:
        """Step all states together to the end, one capacity per step from its noise level."""
        p, cur = self.problem, list(states)
        t_max = float(p.scheduler.num_train_timesteps)  # type: ignore[attr-defined]
        while live := [i for i, s in enumerate(cur) if not p.is_terminal(s)]:
            step = min(cur[i].step for i in live)
            frac = max(float(p.timestep(step)), 0.0) / t_max
            group = [i for i in live if cur[i].step == step]
            with capacity(p.model, min(1.0, cap * (0.5 + 0.5 * frac))):
                kids = p.advance([cur[i] for i in group], [step + 1] * len(group), rng)
            for i, kid in zip(group, kids, strict=True):
                cur[i] = kid.state
        rewards = p.rewards(cur)
        return [Rollout([], float(r), s) for r, s in zip(rewards, cur, strict=True)]


def complexity_search(
    problem: DenoisingProblem,
    nfe: int,
    *,
    budget: float,
    n_out: int,
    rng: np.random.Generator,
    parallel: int = 8,
    c: float = math.sqrt(2.0),
    backup: str = "max",
    c_widen: float = 1.0,
    alpha: float = 0.5,
    by_noise: bool = False,
) -> tuple[list[DiffusionState], float, Any]:
    """The search above to an NFE budget; (committed samples, best committed reward, tree)."""
    check_budget(budget)
    select, reach = selection_rule("uct", c, 1.0)
    cfg = SearchConfig(
        "widen",
        select,
        backup_rule(backup, 1.0),  # type: ignore[arg-type]
        reach,
        widen=check_widening(c_widen, alpha),
        parallel=parallel,
    )
    res = TreeSearch(CheapRollouts(problem, budget, by_noise), cfg, rng).run(Budget(nfe=nfe))
    tree = res.tree
    assert tree is not None
    n = tree.size
    done = [
        i
        for i in range(n)
        if tree.terminal[i] and tree.materialized[i] and np.isfinite(tree.reward[i])
    ]
    if not done:  # nothing committed to the end yet: finish the most visited path
        node = 0
        while len(kids := tree.children(node)) and (tree.visits[kids] > 0).any():
            node = int(kids[np.argmax(tree.visits[kids])])
        with capacity(problem.model, 1.0):
            out = problem.rollout([tree.states[node]], rng)[0]
        return [out.terminal], float(out.reward), tree
    done.sort(key=lambda i: -float(tree.reward[i]))
    states = [tree.states[i] for i in done[:n_out]]
    return states, float(tree.reward[done[0]]), tree
