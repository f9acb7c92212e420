"""`decode_steps`: the one decode loop of every mctd language-model backend.

In the spirit of mlx-lm's ``generate_step``, a generator that yields one `Step` per decode step of
a ragged batch (a cap per row). The backend supplies only its array operations, as a `DecodeBatch`
built from its prefix-tree matches: ``feed`` (one forward call: the newest token of every active
row, then the next-token log-probs), ``keep`` (drop finished rows) and ``store`` (cache the
positions a finished row fed). Step ``t`` (from 0):

1. draw one token per active row from the current log-probs with the shared rule
   (`sample_tokens`: one uniform per row, in row order);
2. record it in `Rows`, which stops a row at EOS, a stop string or its cap (the token is kept);
3. cache the ``t`` generated positions each finishing row fed (its last token is never fed);
4. drop the finished rows and yield the step; then feed the newest token of every row that goes
   on and read the next log-probs (so a consumer that stops early pays for no unused forward).
   Counters: each feed is one call and adds the work the batch reports to ``nfe``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mctd_tree.lm.sampling import sample_tokens
from mctd_tree.lm.stopping import Rows
from mctd_tree.protocols import Counters


class DecodeBatch(Protocol):
    """A backend's private batch of decoding rows (its arrays); rows are batch positions ``j``
    or original rows ``i`` (the index of the row's prefix in the call)."""

    def feed(self, ids: np.ndarray, rows: Sequence[int], t: int) -> tuple[np.ndarray, int]:
        """One forward call feeding ``ids[j]``, generated token ``t`` (from 0) of original row
        ``rows[j]``; return the next-token log-probs (B, V) and the work done (``nfe`` units)."""
        ...

    def keep(self, going: Sequence[int]) -> None:
        """Keep only the batch positions ``going``."""
        ...

    def store(
        self, done: Sequence[int], rows: Sequence[int], fed: int, toks: Sequence[Sequence[int]]
    ) -> None:
        """Cache the first ``fed`` generated positions of batch rows ``done`` (original rows
        ``rows``, generated tokens ``toks``, of which ``toks[k][:fed]`` were fed)."""
        ...


@dataclass(frozen=True)
class Step:
    """One decode step: the original ``rows`` that drew, their ``tokens``, the raw log-probs
    ``logprobs`` and sampling log-probs ``logq`` of those tokens, and the rows that stopped."""

    t: int
    rows: list[int]
    tokens: np.ndarray
    logprobs: np.ndarray
    logq: np.ndarray
    done: list[int]


def decode_steps(
    batch: DecodeBatch,
    logprobs: np.ndarray,
    out: Rows,
    rng: np.random.Generator,
    counters: Counters,
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
) -> Iterator[Step]:
    """Decode until every row of ``out`` has stopped, one `Step` per draw (see module docstring).

    ``logprobs``: the next-token log-probs (B, V) after each row's prefix (already computed and
    counted by the caller). Tokens, log-probs and stop reasons accumulate in ``out``.
    """
    lp = logprobs
    for t in range(max(out.caps, default=0)):
        if not out.active:
            return
        drawn, logq = sample_tokens(lp, rng, temperature=temperature, top_k=top_k, top_p=top_p)
        active = out.active
        going, done = out.step(drawn, lp, logq)
        idx = np.arange(len(active))
        step = Step(t, active, drawn, lp[idx, drawn], logq, [active[j] for j in done])
        if done and t > 0:
            batch.store(done, step.done, t, [out.toks[i] for i in step.done])
        if done:
            out.keep(going)
            if going:
                batch.keep(going)
        yield step
        if out.active:
            ids = np.array([out.toks[i][-1] for i in out.active], dtype=np.int64)
            lp, work = batch.feed(ids, out.active, t)
            counters.calls += 1
            counters.nfe += work
