"""`FlopCounter`: matmul FLOPs of the work a forward pass actually did.

Counted: every linear map on the tokens that went through it (2 * tokens * in * out), attention
scores and weighted values over the (query, key) pairs actually allowed (4 * head_dim * heads per
pair), routers, and the LM head on the positions whose logits were computed. Not counted: norms,
rotary, softmax, embeddings lookups, and the padding of ragged batches (work on no token).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FlopCounter:
    """Accumulated FLOPs, split by kind (``linear``, ``attention``, ``router``, ``head``)."""

    by_kind: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int) -> None:
        self.by_kind[kind] = self.by_kind.get(kind, 0) + int(n)

    def linear(self, tokens: int, d_in: int, d_out: int, kind: str = "linear") -> None:
        """A ``d_in -> d_out`` matmul on ``tokens`` tokens."""
        self.add(kind, 2 * tokens * d_in * d_out)

    def attention(self, pairs: int, width: int) -> None:
        """QK^T and AV over ``pairs`` allowed (query, key) pairs, ``width`` = heads * head_dim."""
        self.add("attention", 4 * pairs * width)

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def reset(self) -> None:
        self.by_kind.clear()
