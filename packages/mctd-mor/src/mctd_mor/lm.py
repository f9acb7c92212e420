"""`MoRLM`: a MoR causal LM as an mctd `LanguageModel`, with tree-aware KV reuse.

Every computed position is kept in a `SegmentTree` (radix tree of token prefixes, LRU-bounded):
a prefix that shares cached ancestors computes only its new positions, and rollout positions are
cached too. Routing is causal (the expert-choice threshold rule or token-choice), so a position's
state depends only on its prefix and cached states are exact. The compute setting (`Compute`:
depth cap, exit threshold) is fixed per instance; `with_compute` gives a sibling with its own cache
and the same counters, and `SplitComputeLM` rolls out with one and expands with another.
``next_logprobs`` and ``generate`` are `mctd_tree.lm.TokenizerLM`'s (one decode loop for every
backend, `mctd_tree.lm.decode_steps`); this class supplies the array operations.

Counters: ``nfe`` = sum over computed positions of the recursions they took (positions x depth;
a vanilla model counts positions), ``calls`` = forward calls, ``flops`` = a `FlopCounter` of all
matmul work, the LM head on read-out positions included.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mctd_tree.lm import TokenizerLM, WrappedLM, find_eos
from mctd_tree.protocols import Counters, Generation

from mctd_mor.flops import FlopCounter
from mctd_mor.kv import MoRCache
from mctd_mor.model import Compute, MoRForCausalLM
from mctd_mor.payload import SegmentTree, assemble, row_segment


class MoRLM(TokenizerLM):
    """``model``: a `MoRForCausalLM`; ``tokenizer``: Hugging Face style (encode/decode/vocab)."""

    def __init__(
        self,
        model: MoRForCausalLM,
        tokenizer: Any,
        *,
        compute: Compute | None = None,
        max_cache_positions: int = 16384,
        prefill_tokens: int = 4096,
        counters: Counters | None = None,
        flops: FlopCounter | None = None,
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.compute = compute or Compute()
        cfg = model.cfg
        self._vocab = cfg.vocab_size
        self._max_context = cfg.max_seq_len
        self._eos = find_eos([getattr(tokenizer, "eos_token_id", None)], tokenizer, self._vocab)
        self.cache = SegmentTree(max_cache_positions)
        self.prefill_tokens = prefill_tokens
        self.counters = counters if counters is not None else Counters()
        self.flops = flops if flops is not None else FlopCounter()
        self._like = next(model.parameters())

    def with_compute(self, compute: Compute) -> MoRLM:
        """The same model at another compute setting: own cache, shared counters and FLOPs."""
        return MoRLM(
            self.model,
            self.tokenizer,
            compute=compute,
            max_cache_positions=self.cache.max_positions,
            prefill_tokens=self.prefill_tokens,
            counters=self.counters,
            flops=self.flops,
        )

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """A plain LM has no chat template: the message contents, joined by newlines."""
        return self.encode("\n".join(m["content"] for m in messages))

    def reset_counters(self) -> None:
        super().reset_counters()
        self.flops.reset()

    # ------------------------------------------------------------------ array operations
    def _inference(self) -> contextlib.AbstractContextManager[Any]:
        return torch.inference_mode()

    def _cached_logprobs(self, prefixes: Sequence[tuple[int, ...]]) -> np.ndarray:
        return self._logprobs(torch.stack([self._last_hidden(p) for p in prefixes]))

    def _decode_batch(
        self, rows: list[tuple[int, ...]], steps: int
    ) -> tuple[_Decoding, np.ndarray]:
        cfg = self.model.cfg
        matches = [self.cache.match(r) for r in rows]
        cache = assemble(matches, self.model.kv_slots(), cfg.n_heads, cfg.head_dim, self._like)
        lp = self._logprobs(torch.stack([self._last_hidden(r) for r in rows]))
        return _Decoding(self, cache, rows), lp

    # ------------------------------------------------------------------ internals
    def _last_hidden(self, prefix: tuple[int, ...]) -> torch.Tensor:
        m = self.cache.match(prefix)
        node, used = m.segments[-1]
        assert node.payload is not None and m.length == len(prefix)
        return node.payload.hidden[used - 1]

    def _logprobs(self, hidden: torch.Tensor) -> np.ndarray:
        self.flops.linear(hidden.shape[0], hidden.shape[-1], self._vocab, "head")
        lg = self.model.lm_head(hidden).float()
        return torch.log_softmax(lg, -1).cpu().numpy()

    def _prefill(self, targets: Sequence[tuple[tuple[int, ...], object]]) -> None:
        cfg = self.model.cfg
        seqs = [s for s, _ in targets]
        matches = [self.cache.match(s) for s in seqs]
        starts = [m.length for m in matches]
        width = max(len(s) - st for s, st in zip(seqs, starts, strict=True))
        b = len(seqs)
        ids = torch.zeros(b, width, dtype=torch.long)
        pos = torch.zeros(b, width, dtype=torch.long)
        valid = torch.zeros(b, width, dtype=torch.bool)
        for i, (s, st) in enumerate(zip(seqs, starts, strict=True)):
            n = len(s) - st
            ids[i, :n] = torch.tensor(s[st:])
            pos[i, :] = torch.arange(st, st + width)
            valid[i, :n] = True
        cache = assemble(matches, self.model.kv_slots(), cfg.n_heads, cfg.head_dim, self._like)
        o = self.model(
            ids, pos, valid, cache=cache, compute=self.compute, flops=self.flops, logits="none"
        )
        self.counters.nfe += int(o.depth[valid].sum())
        self.counters.calls += 1
        self._count_padding(int((~valid).sum()))  # right-padding ran through the unique layers
        for i, (s, st) in enumerate(zip(seqs, starts, strict=True)):
            n = len(s) - st
            seg = row_segment(cache, i, st, o.hidden[i, :n], o.depth[i, :n])
            self.cache.put(s, st, seg)


class _Decoding:
    """`MoRLM`'s `DecodeBatch`: the batch `MoRCache` and each row's fed hidden states and depths.
    A fed token's work is the recursions it took (``nfe`` units)."""

    def __init__(self, lm: MoRLM, cache: MoRCache, rows: list[tuple[int, ...]]) -> None:
        self.lm, self.cache, self.rows = lm, cache, rows
        self.lens = torch.tensor([len(r) for r in rows])
        self.hid: list[list[torch.Tensor]] = [[] for _ in rows]
        self.dep: list[list[torch.Tensor]] = [[] for _ in rows]

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        lm = self.lm
        o = lm.model(
            torch.from_numpy(ids)[:, None],
            (self.lens + t)[:, None],
            cache=self.cache,
            compute=lm.compute,
            flops=lm.flops,
            logits="none",
        )
        for j, i in enumerate(rows):
            self.hid[i].append(o.hidden[j, 0])
            self.dep[i].append(o.depth[j, 0])
        return lm._logprobs(o.hidden[:, 0]), int(o.depth.sum())

    def keep(self, going: Sequence[int]) -> None:
        keep = torch.tensor(list(going))
        self.cache.select(keep)
        self.lens = self.lens[keep]

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        """Cache the ``fed`` generated positions of finishing rows (the last token is not fed)."""
        for j, i, tk in zip(done, rows, toks, strict=True):
            prefix = self.rows[i]
            hid, dep = torch.stack(self.hid[i]), torch.stack(self.dep[i])
            seg = row_segment(self.cache, j, len(prefix), hid, dep)
            self.lm.cache.put(prefix + tuple(tk[:fed]), len(prefix), seg)


class SplitComputeLM(WrappedLM):
    """Expands (``next_logprobs``) with ``full`` and rolls out (``generate``) with ``rollout``.

    Both must be `MoRLM` siblings (`MoRLM.with_compute`): counters and FLOPs are shared.
    """

    def __init__(self, full: MoRLM, rollout: MoRLM) -> None:
        super().__init__(full)
        self.full, self.rollout = full, rollout
        self.counters = full.counters
        self.flops = full.flops

    def reset_counters(self) -> None:
        self.full.reset_counters()

    def clear_cache(self) -> None:
        self.full.clear_cache()
        self.rollout.clear_cache()

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        return self.full.next_logprobs(prefixes)

    def generate(
        self, prefixes: Sequence[Sequence[int]], rng: np.random.Generator, **kwargs: Any
    ) -> list[Generation]:
        return self.rollout.generate(prefixes, rng, **kwargs)
