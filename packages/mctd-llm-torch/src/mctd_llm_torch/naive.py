"""`NaiveTorchLM`: the same model without tree-aware reuse, as a baseline for benchmarks.

It behaves like the published MaxEnt-TS code: every call re-encodes each prefix from scratch, one
row at a time (no batching across rows); a rollout keeps a KV cache only inside its own call
(like ``model.generate``). Sampling follows the shared rule with the same random-number order as
`TorchLM` (per step, one uniform per active row in row order), so a seeded search draws the same
tokens with either model and builds the same tree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from mctd_tree.lm import Rows, WrappedLM, check_sampling, row_caps, sample_tokens
from mctd_tree.protocols import Generation
from transformers import DynamicCache

from mctd_llm_torch.model import TorchLM


class NaiveTorchLM(WrappedLM):
    """Re-encode-every-call wrapper around a loaded `TorchLM`'s model (shares its weights)."""

    lm: TorchLM

    def __init__(self, lm: TorchLM) -> None:
        super().__init__(lm)

    def _run(self, ids: Sequence[int], cache: DynamicCache) -> np.ndarray:
        x = torch.tensor([list(ids)], device=self.lm.device)
        out = self.lm.model(input_ids=x, past_key_values=cache, use_cache=True, logits_to_keep=1)
        self.counters.nfe += len(ids)
        self.counters.calls += 1
        return torch.log_softmax(out.logits[0, -1].float(), dim=-1).cpu().numpy()

    @torch.inference_mode()
    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        rows = [self.lm._check_prefix(p) for p in prefixes]
        out = [self._run(p, DynamicCache()) for p in rows]
        return np.stack(out) if out else np.zeros((0, self.vocab_size), np.float32)

    @torch.inference_mode()
    def generate(
        self,
        prefixes: Sequence[Sequence[int]],
        rng: np.random.Generator,
        *,
        max_new_tokens: int | Sequence[int],
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        check_sampling(temperature, top_k, top_p)
        rows = [self.lm._check_prefix(p, generating=True) for p in prefixes]
        caches = [DynamicCache() for _ in rows]
        lps = [self._run(r, c) for r, c in zip(rows, caches, strict=True)]
        caps = row_caps(max_new_tokens, rows, self.max_context)
        out = Rows(caps, self.eos_token_ids, stop, self.decode)
        while out.active:
            lp = np.stack([lps[i] for i in out.active])
            drawn, logq = sample_tokens(lp, rng, temperature=temperature, top_k=top_k, top_p=top_p)
            out.keep(out.step(drawn, lp, logq)[0])
            for i in out.active:  # one row at a time
                lps[i] = self._run([out.toks[i][-1]], caches[i])
        return out.results()
