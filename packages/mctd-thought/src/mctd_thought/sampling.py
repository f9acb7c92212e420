"""Samplers of the masked-diffusion LM: low-confidence remasking (LLaDA), Fast-dLLM threshold
parallel decoding, semi-autoregressive blocks and the block-wise approximate KV cache.

A sequence is the prompt (never masked) followed by an answer that starts all [MASK]. The answer
is cut into blocks of ``block`` tokens (0: one block, i.e. not semi-autoregressive); a row always
works on its first block that still holds a mask. Each step predicts x_0 at every position (one
forward), draws a token per masked position (argmax at temperature 0, else from
softmax(logits / T) cut to ``top_k`` / ``top_p``: mctd-tree's `process_logprobs` rule), scores it
by its confidence p_theta(token) (the model's untempered, uncut probability, as in LLaDA and
Fast-dLLM) and commits:

- ``low_confidence``: the k most confident masked positions of the block, k = block /
  (steps per block); ``steps = length`` of the answer (one token per step) is the quality
  reference;
- ``threshold``: every masked position of the block whose confidence is strictly above ``tau``,
  and at least the most confident one (tau = 1: one per step; tau = 0: the whole block at once).
  Fast-dLLM keeps ``>= tau``; the two differ only at a confidence exactly equal to tau (strict
  keeps tau = 1 at one token a step even when float32 saturates a probability to 1.0).

Committed tokens are never changed again (copy-through). With ``cache=True`` (Fast-dLLM's
DualCache) each block starts with a full forward that stores every position's keys/values; the
following steps of that block recompute only the block's positions against the stored (stale)
prefix and suffix. Rows of a batch then move through blocks together.

Counters (mctd-tree's `Counters`): ``nfe`` = token positions computed (a full forward of B rows
of length L is B·L; a block step B·block; the stack's cells count once per generation as
positions), ``calls`` = batched forward calls. `DecodeStats` adds ``row_forwards`` (forwards per
row, summed) and ``tokens``: tokens per forward = tokens / row_forwards.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from mctd_tree.lm.sampling import check_sampling
from mctd_tree.protocols import Counters
from torch import Tensor

from mctd_thought.layers import KVCache, Memory
from mctd_thought.model import MaskedDiffusionLM
from mctd_thought.stack import ThoughtStack

METHODS = ("low_confidence", "threshold")


@dataclass
class DecodeConfig:
    """``length``: prompt + answer tokens. ``block``: semi-AR block size (0: the whole answer).
    ``steps``: low-confidence steps for the whole answer (0: one per token). ``tau``: threshold.
    ``temperature`` / ``top_k`` (0: off) / ``top_p`` (1: off): the draw of each position."""

    length: int
    method: str = "low_confidence"
    block: int = 0
    steps: int = 0
    tau: float = 0.9
    temperature: float = 0.0
    cache: bool = False
    top_k: int = 0
    top_p: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if not (isinstance(self.tau, int | float) and 0.0 <= self.tau <= 1.0):
            raise ValueError(f"tau must be in [0, 1], got {self.tau!r}")
        check_sampling(self.temperature, self.top_k, self.top_p)
        if self.block < 0 or self.steps < 0:
            raise ValueError("block and steps must be >= 0 (0: the default)")

    def plan(self, prompt_len: int, max_len: int) -> tuple[int, int]:
        """(block size, tokens per low-confidence step) for a prompt; clear errors otherwise."""
        if prompt_len < 1:
            raise ValueError("empty prompt: give at least one prompt token (e.g. the EOS token)")
        answer = self.length - prompt_len
        if answer < 1:
            raise ValueError(
                f"length {self.length} is not above the prompt's {prompt_len} tokens: "
                "nothing to generate"
            )
        if self.length > max_len:
            raise ValueError(f"length {self.length} exceeds the model's max_seq_len {max_len}")
        block = self.block or answer
        if answer % block:
            raise ValueError(f"the answer of {answer} tokens does not split into blocks of {block}")
        steps = self.steps or answer
        n_blocks = answer // block
        if steps % n_blocks or block % (steps // n_blocks):
            raise ValueError(
                f"{steps} steps over {n_blocks} block(s) of {block} must give a whole number of "
                "steps per block that divides the block"
            )
        return block, block // (steps // n_blocks)


def cut_logprobs(z: Tensor, top_k: int = 0, top_p: float = 1.0) -> Tensor:
    """Log-probabilities of softmax(``z``) over the last axis cut to ``top_k`` / ``top_p`` and
    renormalised (cut tokens: -inf); the rule of mctd-tree's `process_logprobs`: top-k keeps
    every token >= the k-th largest, top-p the most probable tokens while the mass before each
    is < top_p."""
    if top_k and top_k < z.shape[-1]:
        kth = torch.topk(z, top_k, dim=-1).values[..., -1:]
        z = z.masked_fill(z < kth, -math.inf)
    lp = torch.log_softmax(z, -1)
    if top_p < 1.0:
        p_sorted, order = torch.sort(lp.exp(), dim=-1, descending=True, stable=True)
        before = torch.cumsum(p_sorted, -1) - p_sorted
        keep = torch.zeros_like(lp, dtype=torch.bool).scatter(-1, order, before < top_p)
        lp = torch.log_softmax(lp.masked_fill(~keep, -math.inf), -1)
    return lp


@dataclass
class DecodeStats:
    """Work of one decode: batched calls, positions (NFE), forwards per row, committed tokens."""

    calls: int = 0
    nfe: int = 0
    row_forwards: int = 0
    tokens: int = 0
    seconds: float = 0.0

    @property
    def tokens_per_forward(self) -> float:
        return self.tokens / max(self.row_forwards, 1)

    @property
    def calls_per_token(self) -> float:
        return self.row_forwards / max(self.tokens, 1)


class Decoder:
    """Runs denoising steps on a batch ``x (B, L)`` (prompt of ``prompt_len`` + answer)."""

    def __init__(
        self,
        model: MaskedDiffusionLM,
        cfg: DecodeConfig,
        prompt_len: int,
        *,
        stack: ThoughtStack | None = None,
        counters: Counters | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.model, self.cfg, self.prompt_len = model, cfg, prompt_len
        self.block, self.per_step = cfg.plan(prompt_len, model.cfg.max_seq_len)
        self.counters = counters if counters is not None else Counters()
        self.stats = DecodeStats()
        self.gen = generator
        self.stack = stack
        self._mems: list[Memory | None] | None = None

    @property
    def mask_id(self) -> int:
        return self.model.mask_id

    def mems(self, rows: Tensor) -> list[Memory | None] | None:
        """The stack's cross-attention keys/values for ``rows`` (computed once, counted once)."""
        if self.stack is None:
            return None
        if self._mems is None:
            self._mems = self.model.memories(self.stack)
            self._count(0, int(self.stack.valid.sum()) * self.model.cfg.cells, 0)
        return [None if m is None else m.rows(rows) for m in self._mems]

    def _count(self, calls: int, positions: int, rows: int) -> None:
        self.counters.nfe += positions
        self.counters.calls += calls
        self.stats.calls += calls
        self.stats.nfe += positions
        self.stats.row_forwards += rows

    def current_block(self, x: Tensor) -> Tensor:
        """Index of each row's first block holding a mask (``n_blocks`` when finished)."""
        ans = x[:, self.prompt_len :] == self.mask_id
        n_blocks = ans.shape[1] // self.block
        per_block = ans.view(x.shape[0], n_blocks, self.block).any(-1)
        first = torch.where(per_block.any(-1), per_block.float().argmax(-1), n_blocks)
        return first

    def block_span(self, b: int) -> tuple[int, int]:
        s = self.prompt_len + b * self.block
        return s, s + self.block

    def choose(self, x: Tensor, logits: Tensor, allowed: Tensor) -> tuple[Tensor, Tensor]:
        """One step on ``x (n, m)`` given ``logits (n, m, V)``: commit among ``allowed`` masked
        positions by the method's rule. Returns (new x, log q of the committed tokens per row)."""
        logits = logits.float()
        logp = torch.log_softmax(logits, -1)
        temp = self.cfg.temperature
        if temp > 0:
            u = torch.rand(logits.shape, generator=self.gen, device=logits.device)
            gumbel = -torch.log(-torch.log(u.clamp(1e-20, 1.0 - 1e-7)))
            logq_all = cut_logprobs(logits / temp, self.cfg.top_k, self.cfg.top_p)
            x0 = (logq_all + gumbel).argmax(-1)
            logq = logq_all.gather(-1, x0[..., None])[..., 0]
        else:
            x0 = logits.argmax(-1)
            logq = torch.zeros(x0.shape, device=x0.device)
        lp_tok = logp.gather(-1, x0[..., None])[..., 0]
        conf = lp_tok.exp()
        cand = allowed & (x == self.mask_id)
        conf = torch.where(cand, conf, torch.full_like(conf, -1.0))
        order = torch.sort(conf, stable=True, dim=-1, descending=True).indices
        rank = torch.empty_like(order).scatter_(
            -1, order, torch.arange(x.shape[1]).expand_as(order)
        )
        if self.cfg.method == "low_confidence":
            commit = cand & (rank < self.per_step)
        else:
            above = conf > self.cfg.tau if self.cfg.tau > 0 else cand
            commit = cand & (above | (rank == 0))
        new = torch.where(commit, x0, x)
        self.stats.tokens += int(commit.sum())
        # which positions this step committed, log q (the draw) and log p_theta of their tokens
        self.last_commit = (commit, logq, lp_tok)
        return new, (logq * commit).sum(-1)

    def _allowed(self, x: Tensor) -> Tensor:
        """Positions of each row's current block."""
        b = self.current_block(x)
        idx = torch.arange(x.shape[1], device=x.device) - self.prompt_len
        return (idx[None] >= 0) & (idx[None] // self.block == b[:, None])

    @torch.no_grad()
    def step(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """One full-forward step of every row that still holds a mask (no cache)."""
        x = x.clone()
        logq = torch.zeros(x.shape[0])
        rows = (x == self.mask_id).any(-1).nonzero()[:, 0]
        if len(rows) == 0:
            return x, logq
        xr = x[rows]
        logits = self.model(xr, mems=self.mems(rows) if self.stack is not None else None)
        self._count(1, xr.numel(), len(rows))
        x[rows], logq[rows] = self.choose(xr, logits, self._allowed(xr))
        return x, logq

    @torch.no_grad()
    def run(self, x: Tensor) -> Tensor:
        """Denoise until no mask is left."""
        if not self.cfg.cache:
            while bool((x == self.mask_id).any()):
                x, _ = self.step(x)
            return x
        return self._run_cached(x)

    def _run_cached(self, x: Tensor) -> Tensor:
        x = x.clone()
        n_blocks = (x.shape[1] - self.prompt_len) // self.block
        while True:
            cur = self.current_block(x)
            b = int(cur.min())
            if b >= n_blocks:
                return x
            rows = (cur == b).nonzero()[:, 0]
            cache = KVCache([])
            xr = x[rows]
            mems = self.mems(rows) if self.stack is not None else None
            logits = self.model(xr, fill=cache, mems=mems)
            self._count(1, xr.numel(), len(rows))
            x[rows], _ = self.choose(xr, logits, self._allowed(xr))
            s, e = self.block_span(b)
            while True:
                live = (x[rows, s:e] == self.mask_id).any(-1).nonzero()[:, 0]
                if len(live) == 0:
                    break
                sub, xs = rows[live], x[rows[live]]
                m = None if mems is None else [None if q is None else q.rows(live) for q in mems]
                logits = self.model(xs, cache=cache.rows(live), span=(s, e), mems=m)
                self._count(1, len(live) * (e - s), len(live))
                allowed = torch.ones(len(live), e - s, dtype=torch.bool)
                x[sub, s:e], _ = self.choose(xs[:, s:e], logits, allowed)


@dataclass
class Generated:
    """Finished sequences ``(B, length)``, the answers (token lists) and the decode's work."""

    ids: Tensor
    answers: list[list[int]]
    stats: DecodeStats


def as_prompt(prompt: Tensor | Sequence[int] | Sequence[Sequence[int]]) -> Tensor:
    """A ``(B, P)`` long tensor of prompts of equal length (a flat list is one prompt)."""
    if isinstance(prompt, Tensor):
        t = prompt.long()
    else:
        items: list[Any] = list(prompt)
        rows: list[list[int]] = (
            [[int(v) for v in r] for r in items]
            if items and isinstance(items[0], Sequence | Tensor)
            else [[int(v) for v in items]]
        )
        if not rows or any(len(r) == 0 for r in rows):
            raise ValueError("empty prompt: give at least one prompt token (e.g. the EOS token)")
        if len({len(r) for r in rows}) != 1:
            raise ValueError("prompts in one batch must have the same length")
        t = torch.tensor(rows, dtype=torch.long)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[1] == 0:
        raise ValueError("empty prompt: give at least one prompt token (e.g. the EOS token)")
    return t


def generate(
    model: MaskedDiffusionLM,
    prompt: Tensor | Sequence[int] | Sequence[Sequence[int]],
    cfg: DecodeConfig,
    *,
    stack: ThoughtStack | None = None,
    seed: int = 0,
    counters: Counters | None = None,
) -> Generated:
    """Generate ``cfg.length - P`` answer tokens after each prompt row."""
    p = as_prompt(prompt)
    if int(p.max()) >= model.cfg.vocab_size or int(p.min()) < 0:
        raise ValueError(f"prompt token ids must be in 0..{model.cfg.vocab_size - 1} (no [MASK])")
    dec = Decoder(
        model,
        cfg,
        p.shape[1],
        stack=stack,
        counters=counters,
        generator=torch.Generator().manual_seed(seed),
    )
    x = torch.cat([p, torch.full((p.shape[0], cfg.length - p.shape[1]), model.mask_id)], 1)
    t0 = time.perf_counter()
    out = dec.run(x)
    dec.stats.seconds = time.perf_counter() - t0
    answers = [[int(v) for v in row] for row in out[:, p.shape[1] :]]
    return Generated(out, answers, dec.stats)
