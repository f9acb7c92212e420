"""The thought stack (S slots of H x W cells) and the writer that makes a new thought from text.

`ThoughtStack` is a value: ``push`` returns a new stack, so gradients flow from a later segment's
loss through the kept cells into the write that made them. Slots are ordered newest first;
``push`` puts the new thought in front of the old ones and keeps the S of highest score (ties:
the newer), in that order, so a slot's rank is its recency among the kept ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from mctd_thought.config import ThoughtConfig
from mctd_thought.layers import Block, RMSNorm


@dataclass
class ThoughtStack:
    """``cells (B, S, H, W, dt)``, ``valid (B, S)``, the eviction ``score (B, S)`` and the
    read ``bias (B, S)``: log sigmoid of the writer's learned importance, added to the attention
    logits of the slot's cells (so the LM loss trains the score that eviction ranks by)."""

    cells: Tensor
    valid: Tensor
    score: Tensor
    bias: Tensor

    @classmethod
    def empty(
        cls, cfg: ThoughtConfig, batch: int, device: torch.device | str = "cpu"
    ) -> ThoughtStack:
        shape = (batch, cfg.slots, cfg.height, cfg.width, cfg.d_thought)
        return cls(
            torch.zeros(shape, device=device),
            torch.zeros(batch, cfg.slots, dtype=torch.bool, device=device),
            torch.full((batch, cfg.slots), -torch.inf, device=device),
            torch.zeros(batch, cfg.slots, device=device),
        )

    @property
    def slots(self) -> int:
        return int(self.cells.shape[1])

    def count(self) -> Tensor:
        """Valid thoughts per row ``(B,)``."""
        return self.valid.sum(-1)

    def push(self, cells: Tensor, score: Tensor, bias: Tensor | None = None) -> ThoughtStack:
        """Add ``cells (B, H, W, dt)`` with ``score (B,)`` (and read ``bias``, default 0); keep
        the S best-scored (ties: newer), newest first. An empty slot scores -inf, so it is
        filled before anything is evicted."""
        if cells.shape[0] != self.cells.shape[0] or cells.shape[1:] != self.cells.shape[2:]:
            raise ValueError(
                f"a thought of shape {tuple(cells.shape)} does not fit a stack of "
                f"{tuple(self.cells.shape)}"
            )
        all_cells = torch.cat([cells[:, None], self.cells], 1)
        all_valid = torch.cat([torch.ones_like(self.valid[:, :1]), self.valid], 1)
        all_score = torch.cat([score[:, None].to(self.score.dtype), self.score], 1)
        new_bias = torch.zeros_like(score) if bias is None else bias
        all_bias = torch.cat([new_bias[:, None].to(self.bias.dtype), self.bias], 1)
        ranked = torch.where(all_valid, all_score, torch.full_like(all_score, -torch.inf))
        n = all_score.shape[1]
        # stable: among equal scores the newer (lower index) wins
        tie = torch.arange(n, device=ranked.device, dtype=ranked.dtype) * 1e-6
        key = torch.where(
            torch.isfinite(ranked), ranked - tie, torch.full_like(ranked, -1e30) - tie
        )
        keep = key.topk(self.slots, -1).indices.sort(-1).values
        g = keep[:, :, None, None, None].expand(-1, -1, *self.cells.shape[2:])
        return ThoughtStack(
            all_cells.gather(1, g),
            all_valid.gather(1, keep),
            all_score.gather(1, keep),
            all_bias.gather(1, keep),
        )

    def detach(self) -> ThoughtStack:
        return ThoughtStack(
            self.cells.detach(), self.valid, self.score.detach(), self.bias.detach()
        )

    def rows(self, idx: Tensor) -> ThoughtStack:
        return ThoughtStack(self.cells[idx], self.valid[idx], self.score[idx], self.bias[idx])


class ThoughtWriter(nn.Module):
    """Text -> a new thought: one bidirectional layer over the (clean) token embeddings, then
    H·W learned cell queries attend to it (one query per cell), a projection to ``d_thought``,
    and a learned importance score (a linear head on the mean cell) used for eviction."""

    def __init__(self, cfg: ThoughtConfig) -> None:
        super().__init__()
        d, dt = cfg.d_model, cfg.d_thought
        self.cfg = cfg
        self.layer = Block(cfg, cross=False)
        self.norm = RMSNorm(d, cfg.norm_eps)
        self.queries = nn.Parameter(torch.randn(cfg.cells, d) * 0.02)
        self.read = nn.MultiheadAttention(d, cfg.n_heads, batch_first=True, bias=False)
        self.out = nn.Linear(d, dt, bias=False)
        self.score = nn.Linear(dt, 1)

    def forward(self, emb: Tensor, pos: Tensor) -> tuple[Tensor, Tensor]:
        """``emb (B, L, d)`` token embeddings at ``pos`` -> (cells (B, H, W, dt), score (B,))."""
        h, _ = self.layer(emb, pos)
        h = self.norm(h)
        q = self.queries[None].expand(emb.shape[0], -1, -1)
        r, _ = self.read(q, h, h, need_weights=False)
        cells = self.out(r + q)
        score = self.score(cells.mean(1)).squeeze(-1)
        return cells.view(emb.shape[0], self.cfg.height, self.cfg.width, -1), score
