"""The ``thought`` backend: a masked-diffusion LM of `mctd_thought` (a ``mctd-train thought`` run)
in the evaluator's language-model tasks, searched over unmasking.

`ThoughtLM` gives tasks the `LanguageModel` surface they use (encode/decode, a plain prompt: no
chat template, the story model knows none, so the prompt is EOS + the messages' text; EOS;
``next_logprobs`` for fluency rewards and perplexity) and the runner a ``search_problem``: an
`mctd_thought.UnmaskProblem` (a node is a partly unmasked answer, an edge one low-confidence
unmasking step of ``per_step`` tokens) sharing the model's counters, so the harness compares the
dLM's search with the AR LM's at matched NFE (positions computed, every forward counted).

``next_logprobs(prefix)`` is the dLM's left-to-right conditional: the prefix followed by [MASK]s
up to the training segment length (``window``), read at the first mask; it costs the whole
window's positions. ``generate`` decodes with the same low-confidence sampler.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mctd_tree.errors import UserError
from mctd_tree.protocols import Counters, Generation, Reward


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
        stop: Sequence[str] = (),
    ) -> list[Generation]:
        """Low-confidence unmasking of each row's answer (``per_step`` tokens a step; a row's
        answer is its cap rounded up to a multiple of ``per_step``, cut back to the cap)."""
        from mctd_thought import DecodeConfig, Decoder

        caps = (
            [max_new_tokens] * len(prefixes)
            if isinstance(max_new_tokens, int)
            else list(max_new_tokens)
        )
        out = []
        for p, cap in zip(prefixes, caps, strict=True):
            n = -(-int(cap) // self.per_step) * self.per_step
            cfg = DecodeConfig(len(p) + n, steps=n // self.per_step, temperature=temperature)
            gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
            dec = Decoder(self.model, cfg, len(p), counters=self.counters, generator=gen)
            x = torch.tensor([[*p, *[self.model.mask_id] * n]])
            lq = torch.zeros(x.shape[1])
            while bool((x == self.model.mask_id).any()):
                x, _ = dec.step(x)
                commit, logq = dec.last_commit
                lq = torch.where(commit[0], logq[0], lq)
            toks = [int(t) for t in x[0, len(p) :]][: int(cap)]
            lps = lq[len(p) : len(p) + len(toks)].numpy().astype(np.float64)
            reason = "length"
            if self._eos in toks:
                toks, lps, reason = (
                    toks[: toks.index(self._eos) + 1],
                    lps[: toks.index(self._eos) + 1],
                    "eos",
                )
            out.append(Generation(toks, lps, reason, lps))
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
        from mctd_thought import UnmaskProblem

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


def load_thought_lm(model: str, *, per_step: int = 4) -> ThoughtLM:
    """`ThoughtLM` of a ``mctd-train thought`` run directory or its ``model/`` folder; the run's
    segment length (its ``config.json``) is the ``next_logprobs`` window."""
    from mctd_trainer.thought import load_thought

    if model in ("default", ""):
        raise UserError("the thought backend needs --model RUN_DIR (a `mctd-train thought` run)")
    folder = Path(model)
    if not folder.exists():
        raise UserError(f"--model {model} does not exist (expected a `mctd-train thought` run)")
    net, tok = load_thought(folder)
    window = 64
    for cfg in (folder / "config.json", folder.parent / "config.json"):
        if cfg.is_file():
            window = int(json.loads(cfg.read_text()).get("seg_len", window))
            break
    return ThoughtLM(net, tok, per_step=per_step, window=window)


def load(
    model: str, *, threads: int | None = None, device: str | None = None, progress: bool = True
) -> ThoughtLM:
    """The ``thought`` backend's loader (entry point ``mctd.lm_backends``): a CPU `ThoughtLM`."""
    del progress
    if device not in (None, "cpu"):
        raise UserError(f"the thought backend runs on the CPU here; got device {device!r}")
    if threads:
        torch.set_num_threads(int(threads))
    return load_thought_lm(model)
