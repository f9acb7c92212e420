"""Per-row bookkeeping of a batched generation: tokens, log-probs and why each row stopped."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from typing import Any

import numpy as np

from mctd_tree.protocols import Generation

EOS_NAMES = ("<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "</s>")


def find_eos(sources: Iterable[Any], tokenizer: Any, vocab_size: int) -> frozenset[int]:
    """EOS ids: every int / list of ints in ``sources``, plus the usual special end tokens."""
    ids: set[int] = set()
    for e in sources:
        if isinstance(e, int):
            ids.add(e)
        elif isinstance(e, list | tuple):
            ids.update(int(x) for x in e)
    special = set(getattr(tokenizer, "all_special_tokens", []) or [])
    vocab = tokenizer.get_vocab()
    for name in EOS_NAMES:
        if name in special and name in vocab:
            ids.add(int(vocab[name]))
    return frozenset(i for i in ids if 0 <= i < vocab_size)


class Rows:
    """Tokens and raw log-probs per row; ``active`` holds the original index of each batch row.

    A row stops at an EOS token, when the decoded tail (the last ``longest stop + 8`` tokens, or
    everything with ``window=False``) contains a stop string, or at its cap; the stopping token is
    kept.
    """

    def __init__(
        self,
        caps: Sequence[int],
        eos: Container[int],
        stop: str | Sequence[str],
        decode: Callable[[Sequence[int]], str],
        *,
        window: bool = True,
    ) -> None:
        n = len(caps)
        self.caps = list(caps)
        self.eos = eos
        self.stop = (stop,) if isinstance(stop, str) else tuple(stop)
        self.decode = decode
        self.window = max((len(s) for s in self.stop), default=0) + 8 if window else 0
        self.toks: list[list[int]] = [[] for _ in range(n)]
        self.lps: list[list[float]] = [[] for _ in range(n)]
        self.lqs: list[list[float]] = [[] for _ in range(n)]
        self.reason = ["length"] * n
        self.active = list(range(n))

    def _stopped(self, i: int, tok: int) -> bool:
        if tok in self.eos:
            self.reason[i] = "eos"
        elif self.stop and any(s in self.decode(self.toks[i][-self.window :]) for s in self.stop):
            self.reason[i] = "stop"
        elif len(self.toks[i]) >= self.caps[i]:
            self.reason[i] = "length"
        else:
            return False
        return True

    def step(
        self, drawn: np.ndarray, lp: np.ndarray, logq: np.ndarray | None = None
    ) -> tuple[list[int], list[int]]:
        """Append each active row's drawn token (its raw log-prob from ``lp``, and ``logq``, its
        log-prob under the sampling distribution); return the batch positions (going, done)."""
        going: list[int] = []
        done: list[int] = []
        for j, i in enumerate(self.active):
            tok = int(drawn[j])
            self.toks[i].append(tok)
            self.lps[i].append(float(lp[j, tok]))
            self.lqs[i].append(float(lp[j, tok]) if logq is None else float(logq[j]))
            (done if self._stopped(i, tok) else going).append(j)
        return going, done

    def keep(self, going: Sequence[int]) -> None:
        """Keep only the batch positions ``going`` active."""
        self.active = [self.active[j] for j in going]

    def results(self) -> list[Generation]:
        return [
            Generation(t, np.asarray(lp, np.float32), r, np.asarray(lq, np.float64))
            for t, lp, r, lq in zip(self.toks, self.lps, self.reason, self.lqs, strict=True)
        ]
