"""`MoRForCausalLM`: a Llama-style causal LM with Mixture-of-Recursions.

Layout: embedding, ``n_first`` unique layers, a shared block of ``n_block`` layers applied up to
``n_recursion`` times, ``n_last`` unique layers, RMSNorm, tied LM head. At recursion r only the
selected tokens are gathered (in causal order), run through the block and scattered back as
``h + g * (block(h) - h)`` (g: the router gate; 1 without a router). Attention at depth r covers
only the tokens selected at r (recursion-wise KV) or, with ``kv_mode="share"``, the keys and
values of the first recursion (recursive KV sharing: depths >= 2 compute queries only).

Every call appends its tokens' keys/values to a `MoRCache`, so a full forward pass is one call on
an empty cache and incremental decoding is one call per token on the same cache; both do the same
arithmetic when routing is causal (``routing="threshold"``, token-choice, or given ``depths``).
``routing="topk"`` (expert-choice training) picks top-k over the whole sequence (not causal).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mctd_mor.config import MoRConfig, check_capacities
from mctd_mor.flops import FlopCounter
from mctd_mor.gather import gather_index, gather_rows, scatter_rows
from mctd_mor.kv import KV, MoRCache
from mctd_mor.layers import DecoderLayer, Group, RMSNorm, Rope
from mctd_mor.routers import (
    ExpertChoiceRouter,
    TokenChoiceRouter,
    balance_loss,
    bce_loss,
    capacity_k,
    topk_select,
    z_loss,
)


@dataclass
class Compute:
    """Per-call compute knob: ``max_depth`` caps recursions; ``threshold`` (expert-choice decode
    rule) overrides the config's; ``capacities`` overrides the top-k schedule."""

    max_depth: int | None = None
    threshold: float | None = None
    capacities: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError(f"max_depth must be >= 1 (or None: N_r), got {self.max_depth}")
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {self.threshold}")
        if self.capacities is not None:
            self.capacities = tuple(self.capacities)
            check_capacities(self.capacities, len(self.capacities))

    def key(self) -> tuple[object, ...]:
        return (self.max_depth, self.threshold, self.capacities)

    def resolve(self, cfg: MoRConfig) -> tuple[tuple[float, ...], float, int]:
        """(capacities, threshold, max depth) for a model of ``cfg``: the overrides, else the
        config's; capacities of another length than N_r are a ``ValueError``."""
        caps = self.capacities or cfg.capacities
        check_capacities(caps, cfg.n_recursion)
        tau = cfg.threshold if self.threshold is None else self.threshold
        return caps, tau, cfg.n_recursion if self.max_depth is None else self.max_depth


@dataclass
class MoROutput:
    """Logits (or None), last hidden states, per-token depth, auxiliary losses."""

    logits: Tensor | None
    hidden: Tensor
    depth: Tensor
    aux_loss: Tensor
    losses: dict[str, Tensor] = field(default_factory=dict)


class MoRForCausalLM(nn.Module):
    """Vanilla, fixed-depth recursive, MoR-EC and MoR-TC causal LMs in one code path."""

    def __init__(self, cfg: MoRConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.first = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_first))
        self.block = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_block))
        self.last = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_last))
        self.norm = RMSNorm(cfg.d_model, cfg.norm_eps)
        self.head = (
            None if cfg.tie_embeddings else nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        )
        self.ec = (
            ExpertChoiceRouter(cfg.d_model, cfg.n_recursion, cfg.alpha)
            if (cfg.router == "expert")
            else None
        )
        self.tc = (
            TokenChoiceRouter(cfg.d_model, cfg.n_recursion) if (cfg.router == "token") else None
        )
        self.apply(self._init)

    def _init(self, m: nn.Module) -> None:
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)

    def lm_head(self, h: Tensor) -> Tensor:
        """Logits of final (normed) hidden states; the tied head is the embedding matrix."""
        return h @ self.embed.weight.T if self.head is None else self.head(h)

    def num_unique_params(self) -> int:
        """Parameters stored (the shared block once)."""
        return sum(p.numel() for p in self.parameters())

    # ----------------------------------------------------------------------------- forward
    def forward(
        self,
        ids: Tensor,
        pos: Tensor | None = None,
        valid: Tensor | None = None,
        *,
        cache: MoRCache | None = None,
        routing: str = "threshold",
        depths: Tensor | None = None,
        compute: Compute | None = None,
        flops: FlopCounter | None = None,
        logits: str = "all",
    ) -> MoROutput:
        """Run ``ids (B, n)`` at positions ``pos`` (default 0..n-1) on top of ``cache``.

        ``routing``: ``"topk"`` (expert-choice training: capacity top-k over the n tokens) or
        ``"threshold"`` (causal). ``depths (B, n)``: force each token's recursions (0..N_r).
        ``logits``: ``"all"``, ``"last"`` or ``"none"``.
        """
        cfg = self.cfg
        b, n = ids.shape
        if pos is None:
            pos = torch.arange(n, device=ids.device).expand(b, n)
        if valid is None:
            valid = torch.ones_like(ids, dtype=torch.bool)
        if routing not in ("topk", "threshold"):
            raise ValueError(f"routing must be 'topk' or 'threshold', got {routing!r}")
        if routing == "topk" and cache is not None and cache.slots:
            raise ValueError("top-k routing sees the whole sequence: use it without a cache")
        cache = cache if cache is not None else MoRCache()
        compute = compute or Compute()
        h = self.embed(ids)
        rope = Rope.at(pos, cfg.head_dim, cfg.rope_theta, h.dtype)
        grp = Group(pos, valid, rope)
        for i, layer in enumerate(self.first):
            h = self._layer(layer, f"first.{i}", h, grp, cache, flops)
        h, depth, losses = self._recurse(h, grp, cache, routing, depths, compute, flops)
        grp = grp.fresh()
        for i, layer in enumerate(self.last):
            h = self._layer(layer, f"last.{i}", h, grp, cache, flops)
        out = self.norm(h)
        lg = None
        if logits != "none":
            sel = out if logits == "all" else out[:, -1:]
            lg = self.lm_head(sel)
            if flops is not None:
                rows = int(valid.sum()) if logits == "all" else b
                flops.linear(rows, cfg.d_model, cfg.vocab_size, "head")
        aux = (
            cfg.bce_coef * losses.get("bce", h.new_zeros(()))
            + cfg.balance_coef * losses.get("balance", h.new_zeros(()))
            + cfg.z_coef * losses.get("z", h.new_zeros(()))
        )
        return MoROutput(lg, out, depth, aux, losses)

    def _layer(
        self,
        layer: nn.Module,
        slot: str,
        h: Tensor,
        grp: Group,
        cache: MoRCache,
        flops: FlopCounter | None,
        rows: Tensor | None = None,
        batch: int = 0,
    ) -> Tensor:
        """Run ``layer`` on ``h`` (the tokens of ``grp``; batch ``rows`` of the cache's ``batch``
        rows, default all) and append its new keys/values to the cache slot."""
        past = cache.slots.get(slot)
        if past is None and rows is not None:
            past = KV.empty(batch, self.cfg.n_heads, self.cfg.head_dim, h)
        h, kv = layer(h, grp, past=past, flops=flops, rows=rows)
        assert kv is not None
        cache.slots[slot] = kv
        return h

    def _recurse(
        self,
        h: Tensor,
        grp: Group,
        cache: MoRCache,
        routing: str,
        depths: Tensor | None,
        compute: Compute,
        flops: FlopCounter | None,
    ) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        cfg = self.cfg
        pos, valid = grp.pos, grp.valid
        caps, tau, max_depth = compute.resolve(cfg)
        active = valid.clone()
        depth = torch.zeros_like(pos)
        losses: dict[str, Tensor] = {}
        tc_probs = tc_depth = None
        if self.tc is not None:
            tc_logits, tc_probs, tc_depth = self.tc(h)
            if depths is not None:
                tc_depth = depths
            if flops is not None:
                flops.linear(int(valid.sum()), cfg.d_model, cfg.n_recursion, "router")
            losses["balance"] = balance_loss(tc_probs, tc_depth.clamp(min=1), valid)
            losses["z"] = z_loss(tc_logits, valid)
        bce: list[Tensor] = []
        for r in range(cfg.n_recursion):
            gate = None
            if self.ec is not None:
                lg = self.ec.logits(h, r)
                if flops is not None:
                    flops.linear(int(active.sum()), cfg.d_model, 1, "router")
                if depths is not None:
                    sel = active & (depths > r)
                elif routing == "topk":
                    sel = topk_select(lg, active, capacity_k(caps[r], int(valid[0].sum())))
                    bce.append(bce_loss(lg, active, sel))
                else:
                    sel = self.ec.threshold_select(lg, active, caps[r], tau)
                gate = self.ec.gate(lg)
            elif tc_depth is not None and tc_probs is not None:
                sel = active & (tc_depth > r)
                last = tc_depth == r + 1
                g = tc_probs.gather(-1, (tc_depth.clamp(min=1) - 1)[..., None]).squeeze(-1)
                gate = torch.where(last, g, torch.ones_like(g))
            else:
                sel = active & (depths > r) if depths is not None else active
            if r >= max_depth:
                sel = torch.zeros_like(sel)
            if not bool(sel.any()):
                break
            h = self._apply_block(h, grp, sel, gate, r, cache, flops)
            depth = depth + sel.long()
            active = sel
        if bce:
            losses["bce"] = torch.stack(bce).sum()
        return h, depth, losses

    def _apply_block(
        self,
        h: Tensor,
        grp: Group,
        sel: Tensor,
        gate: Tensor | None,
        r: int,
        cache: MoRCache,
        flops: FlopCounter | None,
    ) -> Tensor:
        """One recursion on the selected tokens: gather, run the shared block, gate, scatter.

        Every token selected: no gather. Otherwise only the batch rows with a selected token take
        part (in batched decoding a recursion costs the rows that reach it, not the batch); with
        one token per row (decoding) those rows are simply indexed, else each row's selected
        tokens are gathered in causal order.
        """
        b, n = sel.shape
        if bool(sel.all()):
            return self._block(h, grp.fresh(), gate, r, cache, flops, None, b)
        if n == 1:
            one = sel[:, 0].nonzero().squeeze(1)
            sub = Group(grp.pos[one], sel[one], grp.rope.rows(one))
            g1 = None if gate is None else gate[one]
            return h.index_copy(0, one, self._block(h[one], sub, g1, r, cache, flops, one, b))
        idx, gvalid = gather_index(sel)
        busy = gvalid[:, 0]
        rows = None if bool(busy.all()) else busy.nonzero().squeeze(1)
        hs, ps, rope = h, grp.pos, grp.rope
        if rows is not None:
            idx, gvalid, hs, ps, rope = idx[rows], gvalid[rows], h[rows], ps[rows], rope.rows(rows)
        x = gather_rows(hs, idx)
        g = None if gate is None else gather_rows(gate if rows is None else gate[rows], idx)
        sub = Group(gather_rows(ps, idx), gvalid, rope.gather(idx))
        y = self._block(x, sub, g, r, cache, flops, rows, b)
        back = scatter_rows(hs, idx, torch.where(gvalid[..., None], y, x))
        return back if rows is None else h.index_copy(0, rows, back)

    def _block(
        self,
        x: Tensor,
        grp: Group,
        gate: Tensor | None,
        r: int,
        cache: MoRCache,
        flops: FlopCounter | None,
        rows: Tensor | None,
        batch: int,
    ) -> Tensor:
        """The shared block on the tokens ``x`` of ``grp`` (batch ``rows`` of the ``batch`` cache
        rows), gated."""
        cfg = self.cfg
        y = x
        for li, layer in enumerate(self.block):
            if cfg.kv_mode == "share" and r > 0:
                shared = cache.slots[f"block.0.{li}"]
                y, _ = layer(y, grp, shared=shared, flops=flops, rows=rows)
            else:
                y = self._layer(layer, f"block.{r}.{li}", y, grp, cache, flops, rows, batch)
        return y if gate is None else x + gate[..., None] * (y - x)

    # ----------------------------------------------------------------------------- training
    def lm_loss(
        self, ids: Tensor, *, routing: str = "topk", flops: FlopCounter | None = None
    ) -> tuple[Tensor, Tensor, MoROutput]:
        """(next-token NLL, NLL + auxiliary losses, output) on a batch of full sequences."""
        out = self.forward(ids[:, :-1], routing=routing, flops=flops)
        assert out.logits is not None
        nll = F.cross_entropy(out.logits.flatten(0, 1).float(), ids[:, 1:].flatten())
        return nll, nll + out.aux_loss, out

    def kv_slots(self) -> Sequence[str]:
        """Slot names a full cache holds."""
        cfg = self.cfg
        rs = 1 if cfg.kv_mode == "share" else cfg.n_recursion
        return (
            [f"first.{i}" for i in range(cfg.n_first)]
            + [f"block.{r}.{li}" for r in range(rs) for li in range(cfg.n_block)]
            + [f"last.{i}" for i in range(cfg.n_last)]
        )
