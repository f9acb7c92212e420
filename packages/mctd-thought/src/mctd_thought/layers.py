"""Transformer pieces: RMSNorm, rotary, SwiGLU, bidirectional self-attention with a span cache,
and the cross-attention from text positions to the cells of the thought stack.

Self-attention is bidirectional (no causal mask). With cached keys/values of every position
(`KVCache`), a call may compute only a contiguous span ``[s, e)`` of positions: the span's fresh
keys/values replace its slots and its queries attend over the whole (otherwise stale) cache:
Fast-dLLM's block-wise approximate cache (DualCache: prefix and suffix both cached).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from mctd_thought.config import ThoughtConfig


class RMSNorm(nn.Module):
    """x / rms(x) * weight."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x: Tensor, pos: Tensor, theta: float) -> Tensor:
    """Rotary embedding (half-split) of ``x (B, H, n, hd)`` at positions ``pos (n,)``."""
    hd = x.shape[-1]
    inv = theta ** (-torch.arange(0, hd, 2, device=x.device, dtype=torch.float32) / hd)
    ang = pos.to(torch.float32)[:, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


class SwiGLU(nn.Module):
    """w2(silu(w1 x) * w3 x)."""

    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d, ff, bias=False)
        self.w3 = nn.Linear(d, ff, bias=False)
        self.w2 = nn.Linear(ff, d, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


@dataclass
class KVCache:
    """Keys and values ``(B, H, L, hd)`` of every position, one pair per layer."""

    kv: list[tuple[Tensor, Tensor]]

    def rows(self, idx: Tensor) -> KVCache:
        """The cache of a subset of the batch rows."""
        return KVCache([(k[idx], v[idx]) for k, v in self.kv])


class SelfAttention(nn.Module):
    """Bidirectional multi-head attention; optional cached keys/values of the other positions."""

    def __init__(self, cfg: ThoughtConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.heads, self.theta = cfg.n_heads, cfg.rope_theta
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)

    def _split(self, x: Tensor) -> Tensor:
        return rearrange(x, "b n (h d) -> b h n d", h=self.heads)

    def forward(
        self, x: Tensor, pos: Tensor, cached: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``x (B, n, d)`` at positions ``pos`` (contiguous); returns the output and the span's
        own (k, v). With ``cached`` (every position's k, v) the span's slots are replaced."""
        q = rotate(self._split(self.wq(x)), pos, self.theta)
        k = rotate(self._split(self.wk(x)), pos, self.theta)
        v = self._split(self.wv(x))
        keys, vals = k, v
        if cached is not None:
            s, e = int(pos[0]), int(pos[-1]) + 1
            ck, cv = cached
            keys = torch.cat([ck[:, :, :s], k, ck[:, :, e:]], 2)
            vals = torch.cat([cv[:, :, :s], v, cv[:, :, e:]], 2)
        out = F.scaled_dot_product_attention(q, keys, vals)
        return self.wo(rearrange(out, "b h n d -> b n (h d)")), (k, v)


@dataclass
class Memory:
    """The thought stack as cross-attention keys/values: ``k, v (B, heads, N, hd)`` over the
    N = S·H·W cells, ``valid (B, N)`` (cells of empty slots are never attended) and ``bias
    (B, N)`` added to the attention logits (the slot's learned log-importance)."""

    k: Tensor
    v: Tensor
    valid: Tensor
    bias: Tensor

    def rows(self, idx: Tensor) -> Memory:
        return Memory(self.k[idx], self.v[idx], self.valid[idx], self.bias[idx])


class ThoughtAttention(nn.Module):
    """Text positions attend to every cell of every valid thought.

    Queries carry a learned embedding of their position and keys one of their cell's (slot rank,
    row, column), so two positions can read different cells: a real cross-attention, not a
    pooled vector added everywhere. Rows with no valid thought get 0.
    """

    def __init__(self, cfg: ThoughtConfig) -> None:
        super().__init__()
        d, dt = cfg.d_model, cfg.d_thought
        self.heads = cfg.n_heads
        self.qpos = nn.Embedding(cfg.max_seq_len, d)
        nn.init.normal_(self.qpos.weight, std=0.02)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(dt, d, bias=False)
        self.wv = nn.Linear(dt, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)

    def memory(self, cells: Tensor, valid: Tensor, bias: Tensor) -> Memory:
        """``cells (B, N, dt)`` (cell-position embeddings already added), ``valid``, ``bias``."""
        k = rearrange(self.wk(cells), "b n (h d) -> b h n d", h=self.heads)
        v = rearrange(self.wv(cells), "b n (h d) -> b h n d", h=self.heads)
        return Memory(k, v, valid, bias)

    def forward(self, x: Tensor, pos: Tensor, mem: Memory) -> Tensor:
        q = rearrange(self.wq(x + self.qpos(pos)), "b n (h d) -> b h n d", h=self.heads)
        any_valid = mem.valid.any(-1)
        ok = mem.valid | ~any_valid[:, None]  # a row without thoughts: any finite row, zeroed
        bias = torch.where(
            ok, mem.bias.to(q.dtype), torch.full_like(mem.bias, -torch.inf, dtype=q.dtype)
        )
        out = F.scaled_dot_product_attention(q, mem.k, mem.v, attn_mask=bias[:, None, None, :])
        out = self.wo(rearrange(out, "b h n d -> b n (h d)"))
        return out * any_valid[:, None, None].to(out.dtype)


class Block(nn.Module):
    """Pre-norm self-attention, (thought cross-attention), SwiGLU, each with a residual."""

    def __init__(self, cfg: ThoughtConfig, cross: bool) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = SelfAttention(cfg)
        self.xattn_norm = RMSNorm(cfg.d_model, cfg.norm_eps) if cross else None
        self.xattn = ThoughtAttention(cfg) if cross else None
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg.d_model, cfg.d_ff)

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        mem: Memory | None = None,
        cached: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        a, kv = self.attn(self.attn_norm(x), pos, cached)
        x = x + a
        if self.xattn is not None and self.xattn_norm is not None and mem is not None:
            x = x + self.xattn(self.xattn_norm(x), pos, mem)
        return x + self.mlp(self.mlp_norm(x)), kv
