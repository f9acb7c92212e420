"""Llama-style pieces: RMSNorm, rotary embeddings by explicit position, SwiGLU, attention, layer.

Attention takes queries at explicit positions and a `KV` set; a query attends to every valid key
at a position <= its own. Every layer reports its matmul FLOPs for the tokens it actually
processed to an optional `FlopCounter`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
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


@dataclass
class Rope:
    """Rotary tables (half-split, as Llama) of some tokens: ``cos``/``sin`` ``(B, 1, n, hd/2)``.

    Made once per forward call from the positions and shared by every layer and recursion (a
    recursion takes the rows / tokens it runs on with `rows` / `gather`)."""

    cos: Tensor
    sin: Tensor

    @staticmethod
    def at(pos: Tensor, head_dim: int, theta: float, dtype: torch.dtype) -> Rope:
        ang = pos.to(torch.float32)[:, None, :, None] * _inv_freq(head_dim, theta, pos.device)
        return Rope(ang.cos().to(dtype), ang.sin().to(dtype))

    def rows(self, rows: Tensor) -> Rope:
        return Rope(self.cos[rows], self.sin[rows])

    def gather(self, idx: Tensor) -> Rope:
        """Tokens ``idx (B, m)`` of each row."""
        i = idx[:, None, :, None].expand(-1, 1, -1, self.cos.shape[-1])
        return Rope(self.cos.gather(2, i), self.sin.gather(2, i))

    def apply(self, x: Tensor) -> Tensor:
        """``x (B, H, n, hd)`` rotated."""
        half = x.shape[-1] // 2
        x1, x2 = x[..., :half], x[..., half:]
        return torch.cat([x1 * self.cos - x2 * self.sin, x2 * self.cos + x1 * self.sin], -1)


def rotate(x: Tensor, pos: Tensor, theta: float) -> Tensor:
    """Rotary embedding of ``x (B, H, n, hd)`` at positions ``(B, n)``."""
    return Rope.at(pos, x.shape[-1], theta, x.dtype).apply(x)


def causal_mask(q_pos: Tensor, keys: KV) -> Tensor:
    """``(B, n, N)``: key valid and at a position <= the query's."""
    return keys.valid[:, None, :] & (keys.pos[:, None, :] <= q_pos[:, :, None])


@dataclass
class Group:
    """The tokens one group of layers runs on in a call (the first layers, one recursion of the
    shared block, or the last layers): positions, validity, rotary tables, and the attention
    bias, made by the group's first layer and reused by the others. Every layer of a group
    appends the same tokens to a slot with the same history (or attends to the same shared
    slots), so their keys have the same positions and validity."""

    pos: Tensor
    valid: Tensor
    rope: Rope
    bias: Tensor | None = None
    pairs: int = 0
    ready: bool = False

    def fresh(self) -> Group:
        """The same tokens for another group of layers (whose keys may differ)."""
        return Group(self.pos, self.valid, self.rope)

    def attention_bias(self, keys: KV, flops: FlopCounter | None) -> Tensor | None:
        """Additive ``(B, 1, n, N)`` mask over ``keys`` (None when every key is allowed, as in
        decoding with rows of equal length); counts the allowed (query, key) pairs once."""
        if not self.ready:
            mask = causal_mask(self.pos, keys)
            if flops is not None:
                self.pairs = int((mask & self.valid[:, :, None]).sum())
            if not bool(mask.all()):
                mask = mask | ~mask.any(-1, keepdim=True)  # padded queries: any finite row
                zero = torch.zeros((), dtype=keys.k.dtype, device=mask.device)
                self.bias = torch.where(mask, zero, float("-inf"))[:, None]
            self.ready = True
        return self.bias


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
        b, n, d = x.shape
        return x.view(b, n, self.heads, d // self.heads).transpose(1, 2)

    def query(self, x: Tensor, rope: Rope) -> Tensor:
        return rope.apply(self._split(self.wq(x)))

    def keys(self, x: Tensor, grp: Group) -> KV:
        """Keys (rotated) and values of ``x`` (the group's tokens)."""
        k = grp.rope.apply(self._split(self.wk(x)))
        return KV(k, self._split(self.wv(x)), grp.pos, grp.valid)

    def attend(self, q: Tensor, keys: KV, grp: Group, flops: FlopCounter | None) -> Tensor:
        bias = grp.attention_bias(keys, flops)
        if flops is not None:
            flops.attention(grp.pairs, q.shape[1] * q.shape[3])
        out = F.scaled_dot_product_attention(q, keys.k, keys.v, attn_mask=bias)
        b, h, n, hd = out.shape
        return self.wo(out.transpose(1, 2).reshape(b, n, h * hd))


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
    """Pre-norm attention + SwiGLU with residuals, on the tokens of ``grp``.

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
        grp: Group,
        past: KV | None = None,
        shared: KV | None = None,
        flops: FlopCounter | None = None,
        rows: Tensor | None = None,
    ) -> tuple[Tensor, KV | None]:
        h = self.attn_norm(x)
        q = self.attn.query(h, grp.rope)
        new = None
        if shared is None:
            fresh = self.attn.keys(h, grp)
            new = fresh if past is None else past.append(fresh, rows)
            keys = new if rows is None else new.select(rows)
        else:
            keys = shared if rows is None else shared.select(rows)
        x = x + self.attn.attend(q, keys, grp, flops)
        x = x + self.mlp(self.mlp_norm(x))
        if flops is not None:
            n = int(grp.valid.sum())
            flops.linear(n, self.d, self.d * (2 if shared is not None else 4))
            flops.linear(n, self.d, 3 * self.ff)
        return x, new
