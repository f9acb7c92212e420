"""Selection, backup and widening rules as small pure functions on arrays.

Each takes the statistics of one node's children (values, visits, priors, weights) and returns
scores, probabilities or a backed-up value, so it can be tested against its closed form alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np


def check_lam(lam: float, name: str = "lam") -> float:
    """Validate an inverse temperature: finite and > 0."""
    if not (math.isfinite(lam) and lam > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {lam!r}")
    return float(lam)


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


def soft_backup(values: np.ndarray, weights: np.ndarray, lam: float) -> float:
    """Soft (log-mean-exp) value: (1/lam)·log Σ_c w̃_c·exp(lam·v_c), w̃ = w / Σ w.

    Over existing children only. lam → 0 gives the weighted mean, lam → ∞ the max.
    """
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if values.size == 0:
        raise ValueError("soft_backup needs at least one child value")
    if np.any(weights < 0) or not np.any(weights > 0):
        raise ValueError("soft_backup weights must be >= 0 with a positive sum")
    with np.errstate(divide="ignore"):
        log_w = np.log(weights) - math.log(float(weights.sum()))
    return _logsumexp(lam * values + log_w) / lam


def mean_backup(values: np.ndarray, weights: np.ndarray) -> float:
    """Weighted mean of child values."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(np.dot(weights, values) / weights.sum())


def max_backup(values: np.ndarray) -> float:
    """Max of child values (the lam → ∞ limit of the soft backup)."""
    return float(np.max(values))


def running_mean(value: float, visits: float, ret: float) -> float:
    """Running mean of returns after the ``visits``-th return ``ret`` (visits counts it)."""
    if math.isnan(value) or visits <= 1:
        return ret
    return value + (ret - value) / visits


def running_max(value: float, ret: float) -> float:
    """Running max of returns."""
    return ret if math.isnan(value) else max(value, ret)


def uct_scores(q: np.ndarray, n_child: np.ndarray, n_parent: float, c: float) -> np.ndarray:
    """UCT: q + c·sqrt(log N_parent / N_child); children with N_child = 0 score +inf."""
    n_child = np.asarray(n_child, dtype=np.float64)
    out = np.full(n_child.shape, np.inf)
    seen = n_child > 0
    log_n = math.log(max(n_parent, 1.0))
    out[seen] = np.asarray(q, dtype=np.float64)[seen] + c * np.sqrt(log_n / n_child[seen])
    return out


def puct_scores(
    q: np.ndarray, prior: np.ndarray, n_child: np.ndarray, n_parent: float, c: float
) -> np.ndarray:
    """PUCT (AlphaZero): q + c·P·sqrt(N_parent) / (1 + N_child)."""
    n_child = np.asarray(n_child, dtype=np.float64)
    return np.asarray(q, dtype=np.float64) + c * np.asarray(prior) * math.sqrt(
        max(n_parent, 0.0)
    ) / (1.0 + n_child)


def boltzmann_probs(values: np.ndarray, log_weights: np.ndarray, lam: float) -> np.ndarray:
    """Selection probabilities ∝ w·exp(lam·v) (w = multiplicity or p_theta), over finite entries.

    Entries with log_weight = -inf get probability 0.
    """
    logits = lam * np.asarray(values, dtype=np.float64) + np.asarray(log_weights, dtype=np.float64)
    m = np.max(logits)
    if not math.isfinite(m):
        raise ValueError("boltzmann_probs: no child with positive weight and finite value")
    p = np.exp(logits - m)
    return p / p.sum()


def renormalised_prior(log_priors: np.ndarray) -> np.ndarray:
    """p_theta renormalised over the given children: p̃_a = p_a / Σ_b p_b."""
    lp = np.asarray(log_priors, dtype=np.float64)
    p = np.exp(lp - np.max(lp))
    return p / p.sum()


def widening_limit(visits: float, c: float, alpha: float) -> float:
    """Progressive widening: a node with N visits may hold up to max(1, C·N^alpha) draws."""
    return max(1.0, c * max(visits, 0.0) ** alpha)


def sample_index(probs: np.ndarray, rng: np.random.Generator) -> int:
    """Draw an index from a probability vector by inverse CDF with one uniform from ``rng``."""
    cdf = np.cumsum(probs)
    u = rng.random() * cdf[-1]
    return int(min(np.searchsorted(cdf, u, side="right"), len(probs) - 1))


# ---------------------------------------------------------------------------------------------
# The engine's override points. `TreeSearch` calls these through `SearchConfig`, which holds
# them as `functools.partial`s binding their constants (c, lam, C, alpha), as mctx composes
# its policies. Each is pure (apart from the generator a stochastic rule draws from).


@dataclass(frozen=True)
class Children:
    """What a selection rule sees of one node's children (arrays over the children).

    ``q``: values, unvalued children at the parent's value (a neutral first-play estimate);
    ``log_weight``: log multiplicity (sampled children) or log p_theta (enumerated ones);
    ``log_prior``: log p_theta; ``visits``: N + w·N^ (virtual visits of the batch);
    ``parent_visits``: the same for the parent; ``open``: selectable in this batch (a slot is
    expanded once per batch); ``reach``: when set, per child the mass of picks needing model work
    below it, and the rule picks conditioned on reaching such work (see ``SelectFn``).
    """

    q: np.ndarray
    log_weight: np.ndarray
    log_prior: np.ndarray
    visits: np.ndarray
    parent_visits: float
    open: np.ndarray
    reach: np.ndarray | None = None


class SelectFn(Protocol):
    """A selection rule: the index of the chosen child among ``ch``'s open ones (at least one
    is open). With ``ch.reach`` set, the choice is conditioned on reaching work: a stochastic
    rule reweights its law by ``reach``, a deterministic one picks among ``reach > 0``."""

    def __call__(self, ch: Children, rng: np.random.Generator, /) -> int: ...


class ReachFn(Protocol):
    """The mass of a node for conditioned descents, from its children's (``reach``): for a
    stochastic rule the probability that its descent ends at work, for a deterministic one
    whether any child has work below (the descent is then restricted to those)."""

    def __call__(self, ch: Children, reach: np.ndarray, /) -> float: ...


class BackupFn(Protocol):
    """A node's new value after a return ``ret`` passed through it (``visits`` counts it);
    ``kids()`` gives the values and weights of its visited children (multiplicities for sampled
    children, p_theta renormalised for enumerated ones; empty at a leaf), computed only when
    called."""

    def __call__(
        self,
        value: float,
        visits: float,
        ret: float,
        kids: Callable[[], tuple[np.ndarray, np.ndarray]],
        /,
    ) -> float: ...


def _best(scores: np.ndarray, open_: np.ndarray, log_prior: np.ndarray) -> int:
    """Index of the highest open score; ties go to the higher prior."""
    scores = np.where(open_, scores, -np.inf)
    best = np.flatnonzero(scores == scores.max())
    return int(best[np.argmax(log_prior[best])])


def _open(ch: Children) -> np.ndarray:
    return ch.open if ch.reach is None else ch.reach > 0


def uct_select(ch: Children, rng: np.random.Generator, *, c: float) -> int:
    """UCT: argmax of q + c·sqrt(log N_parent / N_child) (unvisited first; ties: prior)."""
    scores = uct_scores(ch.q, ch.visits, ch.parent_visits, c)
    return _best(scores, _open(ch), ch.log_prior)


def puct_select(ch: Children, rng: np.random.Generator, *, c: float) -> int:
    """PUCT: argmax of q + c·P̃·sqrt(N_parent) / (1 + N_child), P̃ = p_theta renormalised."""
    prior = renormalised_prior(ch.log_prior)
    scores = puct_scores(ch.q, prior, ch.visits, ch.parent_visits, c)
    return _best(scores, _open(ch), ch.log_prior)


def _boltzmann_open(ch: Children, lam: float) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return boltzmann_probs(ch.q, np.where(ch.open, ch.log_weight, -np.inf), lam)


def boltzmann_select(ch: Children, rng: np.random.Generator, *, lam: float) -> int:
    """Boltzmann: draw a child ∝ w·exp(lam·q) over the open ones (w = multiplicity or
    p_theta); conditioned on work: ∝ w·exp(lam·q)·reach."""
    probs = _boltzmann_open(ch, lam)
    if ch.reach is not None:
        probs = probs * ch.reach
        probs = probs / probs.sum()
    return sample_index(probs, rng)


def boltzmann_reach(ch: Children, reach: np.ndarray, *, lam: float) -> float:
    """Σ_c P(select c)·reach_c: the probability that a Boltzmann descent ends at work."""
    if not ch.open.any():
        return 0.0
    return float(_boltzmann_open(ch, lam) @ reach)


def any_reach(ch: Children, reach: np.ndarray) -> float:
    """1 when some child has work below it, else 0 (deterministic rules)."""
    return float(np.any(reach > 0))


def mean_update(
    value: float, visits: float, ret: float, kids: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> float:
    """Mean backup: the running mean of the returns through the node."""
    return running_mean(value, visits, ret)


def max_update(
    value: float, visits: float, ret: float, kids: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> float:
    """Max backup: the best return through the node."""
    return running_max(value, ret)


def soft_update(
    value: float,
    visits: float,
    ret: float,
    kids: Callable[[], tuple[np.ndarray, np.ndarray]],
    *,
    lam: float,
) -> float:
    """Soft backup: ``soft_backup`` over the visited children; a leaf's value is its return."""
    values, weights = kids()
    return ret if len(values) == 0 else soft_backup(values, weights, lam)
