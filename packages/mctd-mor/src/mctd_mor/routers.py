"""Routers that give each token its own recursion depth, and their auxiliary losses.

Expert-choice (`ExpertChoiceRouter`): at recursion r a linear router scores every token still
active; in training the top-k_r (k_r = `capacity_k`) are kept (hierarchical filtering), the BCE
auxiliary loss teaches the router to predict that choice from the token alone, and at decode time
a token continues while ``sigmoid(score) > threshold`` (causal: no look at other tokens). A kept
token's update is scaled by the gate ``alpha * sigmoid(score)``.

Token-choice (`TokenChoiceRouter`): one softmax over the N_r depths per token, top-1 picks its
depth; the update of its last recursion is scaled by that probability. Losses: balancing
``N_r * sum_i f_i P_i`` (f_i: fraction of tokens sent to depth i, P_i: mean probability of i) and
z-loss ``mean(logsumexp(logits)^2)``.
"""

from __future__ import annotations

import math
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def capacity_k(capacity: float, n: int) -> int:
    """Tokens kept at a depth of capacity ``capacity`` out of ``n``: ceil(capacity * n), >= 1."""
    if not 0.0 < capacity <= 1.0:
        raise ValueError(f"capacity must be in (0, 1], got {capacity}")
    return max(1, min(n, math.ceil(capacity * n - 1e-9)))


def topk_select(logits: Tensor, active: Tensor, k: int) -> Tensor:
    """Boolean mask of the ``k`` highest-scoring active tokens of each row (``(B, T)``)."""
    if int(active.sum(1).min()) < k:
        raise ValueError(f"hierarchical filtering: fewer than k={k} active tokens in a row")
    masked = logits.masked_fill(~active, float("-inf"))
    idx = masked.topk(k, dim=1).indices
    return torch.zeros_like(active).scatter(1, idx, True)


def bce_loss(logits: Tensor, active: Tensor, selected: Tensor) -> Tensor:
    """Mean BCE of ``sigmoid(logits)`` against ``selected`` over the candidate (active) tokens."""
    x = logits[active]
    return F.binary_cross_entropy_with_logits(x, selected[active].to(x.dtype))


def balance_loss(probs: Tensor, depth: Tensor, valid: Tensor) -> Tensor:
    """``N_r * sum_i f_i P_i`` over valid tokens (depth in 1..N_r)."""
    n_r = probs.shape[-1]
    p = probs[valid]
    f = F.one_hot(depth[valid] - 1, n_r).to(p.dtype).mean(0)
    return n_r * (f * p.mean(0)).sum()


def z_loss(logits: Tensor, valid: Tensor) -> Tensor:
    """Mean squared log-partition of the router logits over valid tokens."""
    return torch.logsumexp(logits[valid], -1).pow(2).mean()


class ExpertChoiceRouter(nn.Module):
    """One linear scorer per recursion; gate ``alpha * sigmoid(score)``."""

    def __init__(self, d_model: int, n_recursion: int, alpha: float) -> None:
        super().__init__()
        self.alpha = alpha
        self.proj = nn.ModuleList(nn.Linear(d_model, 1, bias=False) for _ in range(n_recursion))

    def logits(self, h: Tensor, r: int) -> Tensor:
        """Scores ``(B, T)`` of every token for recursion ``r`` (0-based)."""
        return self.proj[r](h).squeeze(-1)

    def logits_at(self, h: Tensor, r: Tensor) -> Tensor:
        """Scores ``(M,)`` of tokens ``h (M, D)``, each for its own recursion ``r (M,)``."""
        w = torch.cat([cast(nn.Linear, p).weight for p in self.proj], 0)
        return (h * w[r]).sum(-1)

    def gate(self, logits: Tensor) -> Tensor:
        return self.alpha * torch.sigmoid(logits)

    @staticmethod
    def threshold_select(logits: Tensor, active: Tensor, capacity: float, tau: float) -> Tensor:
        """Decode rule: continue iff active and ``sigmoid(score) > tau`` (all at capacity 1)."""
        if capacity >= 1.0:
            return active.clone()
        return active & (torch.sigmoid(logits) > tau)


class TokenChoiceRouter(nn.Module):
    """A softmax over the N_r depths, decided once per token before the recursions."""

    def __init__(self, d_model: int, n_recursion: int) -> None:
        super().__init__()
        self.proj = nn.Linear(d_model, n_recursion, bias=False)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(logits ``(B, T, N_r)``, probabilities, depth ``(B, T)`` in 1..N_r)."""
        logits = self.proj(h)
        probs = logits.softmax(-1)
        return logits, probs, probs.argmax(-1) + 1
