"""`ThoughtLM`: a masked-diffusion LM and its tokenizer behind mctd-tree's `LanguageModel`
surface, plus ``search_problem`` (an `UnmaskProblem` sharing its counters), so harnesses built for
causal LMs (the evaluator's tasks) run a dLM and search it over unmasking at matched NFE.

The prompt is EOS + the messages' text (no chat template). ``next_logprobs(prefix)`` is the dLM's
left-to-right conditional: the prefix followed by [MASK]s up to ``window`` (the training segment
length), read at the first mask; it costs the whole window's positions. ``generate`` decodes
with the low-confidence sampler (``per_step`` tokens a step; each position drawn at
``temperature`` cut to ``top_k`` / ``top_p``); the whole answer is unmasked before a ``stop``
string can be seen, so a stop string cuts the finished answer after the token that completes it
(finish reason ``stop``; the positions after it were computed and are counted). There is no
prefix cache (every position of a bidirectional model depends on every other), so
``clear_cache`` does nothing.
The tokenizer is duck-typed: ``encode(text, add_special_tokens=False)``, ``decode(ids)`` and
``eos_token_id`` (a Hugging Face tokenizer, or `mctd_thought.testing.CharTokenizer`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from mctd_tree.lm.sampling import check_sampling
from mctd_tree.lm.validate import row_caps
from mctd_tree.protocols import Counters, Generation, Reward

from mctd_thought.sampling import DecodeConfig, Decoder
from mctd_thought.search import UnmaskProblem, finish


class ThoughtLM:
    """A `mctd_thought.MaskedDiffusionLM` and its tokenizer behind the `LanguageModel` surface."""

    def __init__(self, model: Any, tokenizer: Any, *, per_step: int = 4, window: int = 64) -> None:
        self.model, self.tok = model.eval(), tokenizer
        self.per_step, self.window = per_step, min(window, model.cfg.max_seq_len)
        self.counters = Counters()
        self._eos = int(tokenizer.eos_token_id)

    @property
    def eos_token_ids(self) -> frozenset[int]:
        return frozenset({self._eos})

    @property
    def vocab_size(self) -> int:
        return int(self.model.cfg.vocab_size)

    @property
    def max_context(self) -> int:
        return int(self.model.cfg.max_seq_len)

    def encode(self, text: str) -> list[int]:
        return list(self.tok.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.tok.decode([int(i) for i in ids if int(i) != self._eos]))

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        return [self._eos, *self.encode(" ".join(m["content"] for m in messages))]

    def reset_counters(self) -> None:
        self.counters.reset()

    def clear_cache(self) -> None:
        """No cache to clear (a bidirectional model recomputes every position)."""

    @torch.no_grad()
    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        out = np.zeros((len(prefixes), self.vocab_size), dtype=np.float32)
        rows: dict[int, list[tuple[int, list[int]]]] = {}
        for i, p in enumerate(prefixes):
            keep = [int(t) for t in p][-(self.max_context - 1) :]
            rows.setdefault(max(len(keep) + 1, self.window), []).append((i, keep))
        mask = self.model.mask_id
        for length, group in rows.items():
            x = torch.tensor([k + [mask] * (length - len(k)) for _, k in group])
            logp = torch.log_softmax(self.model(x).float(), -1)
            self.counters.nfe += x.numel()
            self.counters.calls += 1
            for j, (i, k) in enumerate(group):
                out[i] = logp[j, len(k)].numpy()
        return out

    def generate(
        self,
        prefixes: Sequence[Sequence[int]],
        rng: np.random.Generator,
        *,
        max_new_tokens: int | Sequence[int],
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        stop: str | Sequence[str] = (),
    ) -> list[Generation]:
        """Low-confidence unmasking of each row's answer (``per_step`` tokens a step; a row's
        answer is its cap rounded up to a multiple of ``per_step``, cut back to the cap), then cut
        at the first EOS or after the token that completes a ``stop`` string."""
        caps = row_caps(max_new_tokens, prefixes, self.max_context)
        check_sampling(temperature, top_k, top_p)
        stops = (stop,) if isinstance(stop, str) else tuple(stop)
        if any(not isinstance(s, str) or not s for s in stops):
            raise ValueError(f"stop must be non-empty strings, got {stop!r}")
        out = []
        for p, cap in zip(prefixes, caps, strict=True):
            n = -(-int(cap) // self.per_step) * self.per_step
            cfg = DecodeConfig(
                len(p) + n,
                steps=n // self.per_step,
                temperature=temperature,
                top_k=top_k,
                top_p=top_p,
            )
            gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
            dec = Decoder(self.model, cfg, len(p), counters=self.counters, generator=gen)
            x = torch.tensor([[*p, *[self.model.mask_id] * n]])
            lq, lp = torch.zeros(x.shape[1]), torch.zeros(x.shape[1])
            while bool((x == self.model.mask_id).any()):
                x, _ = dec.step(x)
                commit, logq, logp = dec.last_commit
                lq = torch.where(commit[0], logq[0], lq)
                lp = torch.where(commit[0], logp[0], lp)
            toks = [int(t) for t in x[0, len(p) :]][: int(cap)]
            end, reason = finish(toks, self._eos, stops, self.decode)
            span = slice(len(p), len(p) + end)
            out.append(
                Generation(
                    toks[:end],
                    lp[span].numpy().astype(np.float64),
                    reason,
                    lq[span].numpy().astype(np.float64),
                )
            )
        return out

    def search_problem(
        self,
        prompt_ids: Sequence[int],
        reward: Reward[str],
        *,
        max_new_tokens: int,
        temperature: float = 1.0,
        stop: Sequence[str] = (),
    ) -> Any:
        """The `UnmaskProblem` of one prompt (answer = ``max_new_tokens`` rounded up to a multiple
        of ``per_step``), counting into this model's counters."""
        n = -(-int(max_new_tokens) // self.per_step) * self.per_step
        return UnmaskProblem(
            self.model,
            prompt_ids,
            reward,
            self.decode,
            answer_len=n,
            per_step=self.per_step,
            temperature=temperature if temperature > 0 else 1.0,
            eos_id=self._eos,
            stop=stop,
            counters=self.counters,
        )
