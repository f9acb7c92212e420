"""Llama-style pieces: RMSNorm, rotary embeddings by explicit position, SwiGLU, attention, layer.

Attention takes queries at explicit positions and a `KV` set; a query attends to every valid key
at a position <= its own. Every layer reports its matmul FLOPs for the tokens it actually
processed to an optional `FlopCounter`.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from mctd_mor.config import MoRConfig
from mctd_mor.flops import FlopCounter
from mctd_mor.kv import KV


class RMSNorm(nn.Module):
    """x / rms(x) * weight."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


@functools.cache
def _inv_freq(hd: int, theta: float, device: torch.device) -> Tensor:
    """Rotary frequencies (cached; a normal tensor even when first made under inference mode)."""
    with torch.inference_mode(False):
        return theta ** (-torch.arange(0, hd, 2, device=device, dtype=torch.float32) / hd)


def rotate(x: Tensor, pos: Tensor, theta: float) -> Tensor:
    """Rotary embedding (half-split, as Llama) of ``x (B, H, n, hd)`` at positions ``(B, n)``."""
    hd = x.shape[-1]
    inv = _inv_freq(hd, theta, x.device)
    ang = pos.to(torch.float32)[:, None, :, None] * inv
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., : hd // 2], x[..., hd // 2 :]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def causal_mask(q_pos: Tensor, keys: KV) -> Tensor:
    """``(B, n, N)``: key valid and at a position <= the query's."""
    return keys.valid[:, None, :] & (keys.pos[:, None, :] <= q_pos[:, :, None])


class Attention(nn.Module):
    """Multi-head attention over an explicit `KV` set."""

    def __init__(self, cfg: MoRConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.heads, self.theta = cfg.n_heads, cfg.rope_theta
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)

    def _split(self, x: Tensor) -> Tensor:
        return rearrange(x, "b n (h d) -> b h n d", h=self.heads)

    def query(self, x: Tensor, pos: Tensor) -> Tensor:
        return rotate(self._split(self.wq(x)), pos, self.theta)

    def keys(self, x: Tensor, pos: Tensor, valid: Tensor) -> KV:
        """Keys (rotated) and values of ``x`` at ``pos``."""
        k = rotate(self._split(self.wk(x)), pos, self.theta)
        return KV(k, self._split(self.wv(x)), pos, valid)

    def attend(
        self, q: Tensor, q_pos: Tensor, q_valid: Tensor, keys: KV, flops: FlopCounter | None
    ) -> Tensor:
        mask = causal_mask(q_pos, keys)
        if flops is not None:
            flops.attention(int((mask & q_valid[:, :, None]).sum()), q.shape[1] * q.shape[3])
        mask = mask | ~mask.any(-1, keepdim=True)  # padded queries: any finite row
        out = F.scaled_dot_product_attention(q, keys.k, keys.v, attn_mask=mask[:, None])
        return self.wo(rearrange(out, "b h n d -> b n (h d)"))


class SwiGLU(nn.Module):
    """w2(silu(w1 x) * w3 x)."""

    def __init__(self, d: int, ff: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(d, ff, bias=False)
        self.w3 = nn.Linear(d, ff, bias=False)
        self.w2 = nn.Linear(ff, d, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class DecoderLayer(nn.Module):
    """Pre-norm attention + SwiGLU with residuals.

    ``past``: the slot's KV before this call (the new tokens' keys are appended in place and the
    slot's KV is returned); ``shared``: a KV set to attend to instead, computing no keys
    (recursive KV sharing). ``rows``: ``x`` holds only these batch rows of ``past`` / ``shared``
    (rows without a token at this depth are left out of the computation).
    """

    def __init__(self, cfg: MoRConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.mlp = SwiGLU(cfg.d_model, cfg.d_ff)
        self.d, self.ff = cfg.d_model, cfg.d_ff

    def forward(
        self,
        x: Tensor,
        pos: Tensor,
        valid: Tensor,
        past: KV | None = None,
        shared: KV | None = None,
        flops: FlopCounter | None = None,
        rows: Tensor | None = None,
    ) -> tuple[Tensor, KV | None]:
        h = self.attn_norm(x)
        q = self.attn.query(h, pos)
        new = None
        if shared is None:
            fresh = self.attn.keys(h, pos, valid)
            new = fresh if past is None else past.append(fresh, rows)
            keys = new if rows is None else new.select(rows)
        else:
            keys = shared if rows is None else shared.select(rows)
        x = x + self.attn.attend(q, pos, valid, keys, flops)
        x = x + self.mlp(self.mlp_norm(x))
        if flops is not None:
            n = int(valid.sum())
            flops.linear(n, self.d, self.d * (2 if shared is not None else 4))
            flops.linear(n, self.d, 3 * self.ff)
        return x, new
