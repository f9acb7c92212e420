"""Depth-wise batching for decoding (Bae et al. §2.2): one call of the shared block per tick.

Synchronous batched decoding runs every recursion depth that any row reaches, one call per depth
per step, each on fewer rows; at small sizes a call costs about as much for 5 rows as for 16, so
rows that exit early save little. Here each row moves on its own: a tick runs the shared block
once on every row still decoding, each row at its own depth and against its own depth's KV (the
N_r depth slots of a block layer are one store of ``N_r * B`` rows, row ``r * B + i`` holding row
i's tokens that reached depth r). A row whose token exits (router, forced depth or depth cap)
goes through the last layers and the head, feeds its next token through the embedding and first
layers, and joins the same tick at depth 1. Each token gets exactly the computation of
`MoRForCausalLM.forward` (same routing rule, gates and per-depth keys), so the logits equal
synchronous decoding; only the order of the work changes. The number of block calls is the
number of ticks, about the mean depth per token instead of the deepest depth any row reaches.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from mctd_mor.flops import FlopCounter
from mctd_mor.kv import KV, MoRCache
from mctd_mor.layers import Group, Rope
from mctd_mor.model import Compute, MoRForCausalLM


@dataclass
class DepthwiseOutput:
    """Logits ``(B, n, V)`` and depths ``(B, n)`` of the fed positions; block calls (``ticks``)
    and calls of the unique tail (last layers, head, next token's first layers)."""

    logits: Tensor
    depth: Tensor
    ticks: int
    tails: int


def decode_depthwise(
    model: MoRForCausalLM,
    ids: Tensor,
    start: int,
    cache: MoRCache,
    *,
    depths: Tensor | None = None,
    compute: Compute | None = None,
    flops: FlopCounter | None = None,
) -> DepthwiseOutput:
    """Feed positions ``start .. T-1`` of ``ids (B, T)`` one token per row at a time, on top of
    ``cache`` (holding positions ``< start`` of every row, e.g. from ``model(ids[:, :start],
    cache=cache)``); ``depths (B, T)`` forces each token's recursions as in ``forward``. The
    cache ends holding every fed position, as synchronous decoding leaves it."""
    cfg = model.cfg
    if cfg.kv_mode != "recursion":
        raise ValueError("depth-wise batching needs recursion-wise KV (kv_mode='recursion')")
    if not 0 < start < ids.shape[1]:
        raise ValueError(f"start must be in 1..{ids.shape[1] - 1}, got {start}")
    return _Engine(model, ids, start, cache, depths, compute or Compute(), flops).run()


class _Engine:
    """Per-row state: hidden state, next recursion index ``r``, position; the stacked stores."""

    def __init__(
        self,
        model: MoRForCausalLM,
        ids: Tensor,
        start: int,
        cache: MoRCache,
        depths: Tensor | None,
        compute: Compute,
        flops: FlopCounter | None,
    ) -> None:
        cfg = self.cfg = model.cfg
        self.model, self.ids, self.start, self.cache = model, ids, start, cache
        self.depths, self.flops = depths, flops
        self.b, self.nr = ids.shape[0], cfg.n_recursion
        caps, self.tau, self.max_depth = compute.resolve(cfg)
        dev = self.dev = ids.device
        self.full_cap = torch.tensor([c >= 1.0 for c in caps], device=dev)
        like = model.embed.weight
        n = ids.shape[1] - start
        self.logits = like.new_zeros(self.b, n, cfg.vocab_size)
        self.depth = torch.zeros(self.b, n, dtype=torch.long, device=dev)
        self.h = like.new_zeros(self.b, cfg.d_model)
        self.r = torch.zeros(self.b, dtype=torch.long, device=dev)
        self.pos = torch.full((self.b,), start, dtype=torch.long, device=dev)
        self.live = torch.ones(self.b, dtype=torch.bool, device=dev)
        self.go = torch.zeros(self.b, dtype=torch.bool, device=dev)
        self.gate = like.new_ones(self.b)
        self.tc_depth = torch.zeros(self.b, dtype=torch.long, device=dev)
        self.tc_prob = like.new_ones(self.b)
        self.stores = [self._stack(li) for li in range(cfg.n_block)]
        self.ticks = self.tails = 0

    # ------------------------------------------------------------------ stores
    def _stack(self, li: int) -> KV:
        """Block layer ``li``'s depth slots stacked into one KV of ``N_r * B`` rows."""
        cfg, b = self.cfg, self.b
        parts = [
            self.cache.get(f"block.{r}.{li}", b, cfg.n_heads, cfg.head_dim, self.h)
            for r in range(self.nr)
        ]
        w = max(p.k.shape[2] for p in parts)
        k = self.h.new_zeros(self.nr * b, cfg.n_heads, w, cfg.head_dim)
        v = torch.zeros_like(k)
        pos = torch.zeros(self.nr * b, w, dtype=torch.long, device=self.dev)
        valid = torch.zeros(self.nr * b, w, dtype=torch.bool, device=self.dev)
        for r, p in enumerate(parts):
            n, rows = p.k.shape[2], slice(r * b, (r + 1) * b)
            k[rows, :, :n], v[rows, :, :n], pos[rows, :n], valid[rows, :n] = (
                p.k,
                p.v,
                p.pos,
                p.valid,
            )
        return KV(k, v, pos, valid)

    def _unstack(self) -> None:
        """Write the stacked stores back as the cache's ``block.r.l`` slots."""
        for li, kv in enumerate(self.stores):
            for r in range(self.nr):
                rows = torch.arange(r * self.b, (r + 1) * self.b, device=self.dev)
                part = kv.select(rows)
                if part.entries:
                    self.cache.slots[f"block.{r}.{li}"] = _trim(part)

    # ------------------------------------------------------------------ stages
    def _group(self, rows: Tensor) -> Group:
        p = self.pos[rows][:, None]
        rope = Rope.at(p, self.cfg.head_dim, self.cfg.rope_theta, self.h.dtype)
        return Group(p, torch.ones_like(p, dtype=torch.bool), rope)

    def _unique(self, layers: torch.nn.ModuleList, name: str, x: Tensor, rows: Tensor) -> Tensor:
        grp = self._group(rows)
        every = len(rows) == self.b  # rows come sorted: all of them in order
        for i, layer in enumerate(layers):
            x = self.model._layer(
                layer,
                f"{name}.{i}",
                x,
                grp,
                self.cache,
                self.flops,
                None if every else rows,
                self.b,
            )
        return x

    def _enter(self, rows: Tensor) -> None:
        """Embed the tokens at ``pos[rows]`` and run the first layers; depth 0, decided."""
        x = self.model.embed(self.ids[rows, self.pos[rows]])[:, None]
        x = self._unique(self.model.first, "first", x, rows)[:, 0]
        self.h[rows], self.r[rows] = x, 0
        if self.model.tc is not None:
            _, probs, dep = self.model.tc(x)
            if self.flops is not None:
                self.flops.linear(len(rows), self.cfg.d_model, self.nr, "router")
            if self.depths is not None:
                dep = self.depths[rows, self.pos[rows]]
            self.tc_depth[rows] = dep
            self.tc_prob[rows] = probs.gather(-1, (dep.clamp(min=1) - 1)[:, None])[:, 0]
        self._decide(rows)

    def _decide(self, rows: Tensor) -> None:
        """Whether each row's token takes recursion ``r`` (as `MoRForCausalLM._recurse`), and
        its gate there."""
        rr = self.r[rows]
        go = rr < min(self.max_depth, self.nr)
        forced = None if self.depths is None else self.depths[rows, self.pos[rows]]
        if forced is not None:
            go &= forced > rr
        rc = rr.clamp(max=self.nr - 1)
        if self.model.ec is not None:
            lg = self.model.ec.logits_at(self.h[rows], rc)
            if self.flops is not None:
                self.flops.linear(len(rows), self.cfg.d_model, 1, "router")
            if forced is None:
                go &= self.full_cap[rc] | (torch.sigmoid(lg) > self.tau)
            self.gate[rows] = self.model.ec.gate(lg)
        elif self.model.tc is not None:
            if forced is None:
                go &= self.tc_depth[rows] > rr
            last = self.tc_depth[rows] == rr + 1
            self.gate[rows] = torch.where(last, self.tc_prob[rows], 1.0)
        self.go[rows] = go

    def _tail(self, rows: Tensor) -> None:
        """Rows whose token exits: last layers, head; then the next token enters, if any."""
        self.tails += 1
        t = self.pos[rows] - self.start
        x = self._unique(self.model.last, "last", self.h[rows][:, None], rows)
        out = self.model.norm(x[:, 0])
        self.logits[rows, t] = self.model.lm_head(out)
        if self.flops is not None:
            self.flops.linear(len(rows), self.cfg.d_model, self.cfg.vocab_size, "head")
        self.depth[rows, t] = self.r[rows]
        more = self.pos[rows] + 1 < self.ids.shape[1]
        self.live[rows[~more]] = False
        nxt = rows[more]
        if len(nxt):
            self.pos[nxt] += 1
            self._enter(nxt)

    def _tick(self, rows: Tensor) -> None:
        """The shared block once on ``rows``, each at its own depth."""
        self.ticks += 1
        slot = self.r[rows] * self.b + rows
        grp = self._group(rows)
        x = self.h[rows][:, None]
        y = x
        for li, layer in enumerate(self.model.block):
            y, kv = layer(y, grp, past=self.stores[li], flops=self.flops, rows=slot)
            assert kv is not None
            self.stores[li] = kv
        if self.model.ec is not None or self.model.tc is not None:
            y = x + self.gate[rows][:, None, None] * (y - x)
        self.h[rows] = y[:, 0]
        self.r[rows] += 1
        self._decide(rows)

    def run(self) -> DepthwiseOutput:
        self._enter(torch.arange(self.b, device=self.dev))
        while True:
            done = self.live & ~self.go
            while bool(done.any()):  # exits (and a next token that takes no recursion)
                self._tail(done.nonzero()[:, 0])
                done = self.live & ~self.go
            if not bool(self.live.any()):
                break
            self._tick(self.live.nonzero()[:, 0])
        self._unstack()
        return DepthwiseOutput(self.logits, self.depth, self.ticks, self.tails)


def _trim(kv: KV) -> KV:
    """``kv`` cut to its longest row (the stacked store is as wide as its longest depth)."""
    w = int(kv.valid.sum(1).max())
    return KV(kv.k[:, :, :w], kv.v[:, :, :w], kv.pos[:, :w], kv.valid[:, :w])
