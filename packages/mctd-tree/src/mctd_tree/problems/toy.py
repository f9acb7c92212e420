"""Finite toy trees with exact p_theta and rewards: test fixtures and runnable examples.

A :class:`FiniteTree` is a complete ``branching``-ary tree of ``depth`` levels. A state is the tuple
of actions taken; leaves are terminal. Every quantity the algorithms estimate (the tilted target
p_theta(x)·exp(lam·r(x))/Z, soft values) is computable here by enumeration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mctd_tree.policies import sample_index
from mctd_tree.protocols import Child, Counters, Proposals, Rollout

State = tuple[int, ...]


class FiniteTree:
    """A finite tree implementing both SamplingProblem and EnumerableProblem.

    ``log_priors[i]`` holds log p_theta(. | node i) for the i-th internal node in breadth-first
    order; ``rewards[j]`` is the reward of the j-th leaf in lexicographic order. Each state that a
    batched call advances by one level costs 1 NFE; each batched call (and each level of a batched
    rollout) costs 1 sequential call.
    """

    def __init__(self, branching: int, depth: int, log_priors: np.ndarray, rewards: np.ndarray):
        if branching < 1 or depth < 1:
            raise ValueError("branching and depth must be >= 1")
        internal = (branching**depth - 1) // (branching - 1) if branching > 1 else depth
        lp = np.asarray(log_priors, dtype=np.float64)
        if lp.shape != (internal, branching):
            raise ValueError(f"log_priors must have shape {(internal, branching)}, got {lp.shape}")
        rw = np.asarray(rewards, dtype=np.float64)
        if rw.shape != (branching**depth,):
            raise ValueError(f"rewards must have shape {(branching**depth,)}, got {rw.shape}")
        self.branching, self.depth = branching, depth
        self.log_priors = lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)
        self.rewards = rw
        self.counters = Counters()

    # ---- indexing ----
    def node_index(self, state: State) -> int:
        """Breadth-first index of an internal state."""
        b, idx, offset = self.branching, 0, 0
        for level, a in enumerate(state):
            offset += b**level
            idx = idx * b + a
        return offset + idx

    def leaf_index(self, state: State) -> int:
        idx = 0
        for a in state:
            idx = idx * self.branching + a
        return idx

    def leaves(self) -> list[State]:
        b, d = self.branching, self.depth
        return [tuple(int(x) for x in np.unravel_index(j, (b,) * d)) for j in range(b**d)]

    # ---- protocol ----
    def root(self) -> State:
        return ()

    def is_terminal(self, state: State) -> bool:
        return len(state) == self.depth

    def _charge(self, n_states: int, levels: int = 1) -> None:
        self.counters.nfe += n_states
        self.counters.calls += levels

    def sample(self, states: Sequence[State], rng: np.random.Generator) -> list[Child[State]]:
        self._charge(len(states))
        out = []
        for s in states:
            lp = self.log_priors[self.node_index(s)]
            a = sample_index(np.exp(lp), rng)
            out.append(Child(a, (*s, a), float(lp[a])))
        return out

    def propose(self, states: Sequence[State], k: int) -> list[Proposals]:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self._charge(len(states))
        out = []
        for s in states:
            lp = self.log_priors[self.node_index(s)]
            top = np.argsort(-lp, kind="stable")[:k]
            out.append(Proposals(top, lp[top]))
        return out

    def step(self, states: Sequence[State], actions: Sequence[int]) -> list[State]:
        return [(*s, int(a)) for s, a in zip(states, actions, strict=True)]

    def rollout(self, states: Sequence[State], rng: np.random.Generator) -> list[Rollout[State]]:
        out = []
        levels = 0
        for s in states:
            path: list[Child[State]] = []
            while not self.is_terminal(s):
                lp = self.log_priors[self.node_index(s)]
                a = sample_index(np.exp(lp), rng)
                s = (*s, a)
                path.append(Child(a, s, float(lp[a])))
            self.counters.nfe += len(path)
            levels = max(levels, len(path))
            out.append(Rollout(path, float(self.rewards[self.leaf_index(s)]), s))
        self.counters.calls += levels
        return out

    # ---- exact quantities ----
    def log_prob(self, leaf: State) -> float:
        return float(sum(self.log_priors[self.node_index(leaf[:i])][a] for i, a in enumerate(leaf)))

    def target(self, lam: float) -> np.ndarray:
        """Exact p_theta(x)·exp(lam·r(x))/Z over leaves in lexicographic order."""
        logp = np.array([self.log_prob(leaf) for leaf in self.leaves()])
        logits = logp + lam * self.rewards
        w = np.exp(logits - logits.max())
        return w / w.sum()

    def soft_value(self, state: State, lam: float) -> float:
        """Exact V(s) = (1/lam)·log E_p[exp(lam·r) | s]."""
        if self.is_terminal(state):
            return float(self.rewards[self.leaf_index(state)])
        lp = self.log_priors[self.node_index(state)]
        vals = np.array([self.soft_value((*state, a), lam) for a in range(self.branching)])
        z = lp + lam * vals
        return float((z.max() + np.log(np.exp(z - z.max()).sum())) / lam)

    def optimum(self) -> tuple[State, float]:
        j = int(np.argmax(self.rewards))
        return self.leaves()[j], float(self.rewards[j])


def random_tree(branching: int = 3, depth: int = 3, seed: int = 0, concentration: float = 1.0):
    """A tree with Dirichlet(concentration) priors and uniform(0, 1) leaf rewards."""
    rng = np.random.default_rng(seed)
    internal = (branching**depth - 1) // (branching - 1) if branching > 1 else depth
    priors = rng.dirichlet(np.full(branching, concentration), size=internal)
    return FiniteTree(branching, depth, np.log(priors), rng.uniform(0, 1, branching**depth))


def deceptive_tree(
    branching: int = 3, depth: int = 4, lure: float = 0.6, p_lure: float = 0.6
) -> FiniteTree:
    """A combination lock where greedy decoding fails.

    Action 0 always has prior ``p_lure`` (the others share the rest). Leaves whose first action is
    0 pay ``lure``; any other leaf pays 0.5·(number of leading actions matching the code
    (1, 1, ..., 1)) / depth, and the one leaf (1, 1, ..., 1) pays 1. Greedy follows action 0 and
    gets ``lure``; the optimum has prior ((1 - p_lure)/(branching - 1))^depth (0.0016 by default),
    so best-of-N rarely draws it, while search follows the partial-credit gradient to it.
    """
    internal = (branching**depth - 1) // (branching - 1)
    row = np.full(branching, (1.0 - p_lure) / (branching - 1))
    row[0] = p_lure
    tree = FiniteTree(
        branching, depth, np.log(np.tile(row, (internal, 1))), np.zeros(branching**depth)
    )
    for j, leaf in enumerate(tree.leaves()):
        if leaf[0] == 0:
            tree.rewards[j] = lure
        else:
            match = next((i for i, a in enumerate(leaf) if a != 1), depth)
            tree.rewards[j] = 1.0 if match == depth else 0.5 * match / depth
    return tree
