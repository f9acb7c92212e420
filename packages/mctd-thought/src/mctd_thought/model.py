"""`MaskedDiffusionLM`: a bidirectional transformer denoiser over text with a [MASK] token, and
(``arch="thought"``) a thought stack every layer reads through cross-attention.

``forward(ids, stack)`` returns logits over the text vocabulary at every position (the head has
no [MASK] row). With a `KVCache` and a ``span`` it computes only those positions (Fast-dLLM's
block cache); `predict` applies the copy-through rule (unmasked positions keep their token).
``write(ids, stack)`` makes a thought of a clean text and pushes it (eviction by the writer's
learned score, or by recency).
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor, nn

from mctd_thought.config import ThoughtConfig
from mctd_thought.layers import Block, KVCache, Memory, RMSNorm, ThoughtAttention
from mctd_thought.stack import ThoughtStack, ThoughtWriter


class MaskedDiffusionLM(nn.Module):
    """The denoiser p_theta(x_0 | x_t) (no time input: the mask ratio is visible in x_t)."""

    def __init__(self, cfg: ThoughtConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.embed = nn.Embedding(cfg.vocab_size + 1, d)  # + [MASK]
        nn.init.normal_(self.embed.weight, std=0.02)
        self.blocks = nn.ModuleList(Block(cfg, cross=cfg.has_thought) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(d, cfg.norm_eps)
        self.writer: ThoughtWriter | None = None
        if cfg.has_thought:
            dt = cfg.d_thought
            self.writer = ThoughtWriter(cfg)
            self.slot_pos = nn.Parameter(torch.randn(cfg.slots, dt) * 0.02)
            self.row_pos = nn.Parameter(torch.randn(cfg.height, dt) * 0.02)
            self.col_pos = nn.Parameter(torch.randn(cfg.width, dt) * 0.02)

    @property
    def mask_id(self) -> int:
        return self.cfg.mask_id

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _check_ids(self, ids: Tensor) -> None:
        if ids.ndim != 2:
            raise ValueError(f"ids must be (batch, length), got shape {tuple(ids.shape)}")
        if ids.shape[1] > self.cfg.max_seq_len:
            raise ValueError(f"length {ids.shape[1]} exceeds max_seq_len {self.cfg.max_seq_len}")
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) > self.cfg.vocab_size):
            raise ValueError(f"token ids must be in 0..{self.cfg.vocab_size} ([MASK] included)")

    def memories(self, stack: ThoughtStack | None) -> list[Memory | None]:
        """Per-layer cross-attention keys/values of the stack (None: no thought read)."""
        if stack is None:
            return [None] * len(self.blocks)
        if not self.cfg.has_thought:
            raise ValueError("a baseline model has no thought path: pass stack=None")
        cells = stack.cells + self.slot_pos[None, : stack.slots, None, None]
        cells = cells + self.row_pos[None, None, :, None] + self.col_pos[None, None, None, :]
        flat = rearrange(cells, "b s h w c -> b (s h w) c")
        n = self.cfg.cells
        valid = stack.valid[:, :, None].expand(-1, -1, n).reshape(flat.shape[0], -1)
        bias = stack.bias[:, :, None].expand(-1, -1, n).reshape(flat.shape[0], -1)
        out: list[Memory | None] = []
        for blk in self.blocks:
            xattn = blk.xattn
            assert isinstance(xattn, ThoughtAttention)
            out.append(xattn.memory(flat, valid, bias))
        return out

    def forward(
        self,
        ids: Tensor,
        stack: ThoughtStack | None = None,
        *,
        cache: KVCache | None = None,
        span: tuple[int, int] | None = None,
        fill: KVCache | None = None,
        mems: list[Memory | None] | None = None,
    ) -> Tensor:
        """Logits ``(B, n, V)``: all positions, or only ``span = (s, e)`` with ``cache`` holding
        every position's keys/values. ``fill``: an empty `KVCache` to receive this full pass's
        keys/values. ``mems``: precomputed `memories(stack)` (reused across denoising steps)."""
        self._check_ids(ids)
        length = ids.shape[1]
        s, e = span if span is not None else (0, length)
        if span is not None and (cache is None or not 0 <= s < e <= length):
            raise ValueError(f"span {span} needs a KVCache and 0 <= s < e <= {length}")
        pos = torch.arange(s, e, device=ids.device)
        x = self.embed(ids[:, s:e])
        mems = mems if mems is not None else self.memories(stack)
        for i, blk in enumerate(self.blocks):
            x, kv = blk(x, pos, mems[i], cache.kv[i] if span is not None and cache else None)
            if fill is not None:
                fill.kv.append(kv)
        return self.norm(x) @ self.embed.weight[: self.cfg.vocab_size].T

    def predict(self, ids: Tensor, logits: Tensor) -> Tensor:
        """Log-probs ``(B, L, V)`` with copy-through: an unmasked position is its own token."""
        logp = torch.log_softmax(logits.float(), -1)
        known = ids != self.mask_id
        onehot = torch.full_like(logp, -torch.inf)
        onehot.scatter_(-1, ids.clamp(max=self.cfg.vocab_size - 1)[..., None], 0.0)
        return torch.where(known[..., None], onehot, logp)

    def make_thought(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """(cells (B, H, W, dt), learned score (B,)) of the clean text ``ids``."""
        if self.writer is None:
            raise ValueError("a baseline model has no thought path: it cannot write a thought")
        self._check_ids(ids)
        if bool((ids == self.mask_id).any()):
            raise ValueError("a thought is written from a finished text: ids hold [MASK]")
        pos = torch.arange(ids.shape[1], device=ids.device)
        return self.writer(self.embed(ids), pos)

    def write(self, ids: Tensor, stack: ThoughtStack) -> ThoughtStack:
        """Push the thought of ``ids`` onto ``stack`` (evicting by the configured score)."""
        cells, score = self.make_thought(ids)
        bias = torch.nn.functional.logsigmoid(score)
        if self.cfg.eviction == "recency":
            newest = torch.where(stack.valid, stack.score, torch.full_like(stack.score, -1.0))
            score = newest.max(-1).values + 1.0
        return stack.push(cells, score, bias)

    def empty_stack(self, batch: int) -> ThoughtStack:
        if not self.cfg.has_thought:
            raise ValueError("a baseline model has no thought stack")
        return ThoughtStack.empty(self.cfg, batch, self.embed.weight.device)
