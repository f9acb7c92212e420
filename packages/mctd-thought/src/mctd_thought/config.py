"""`ThoughtConfig`: sizes of the masked-diffusion LM and of its thought stack.

``arch="thought"`` adds the thought path (cross-attention from every layer to the cells of the
stack, and the writer); ``arch="baseline"`` is the same network with that path removed. The
vocabulary holds ``vocab_size`` text tokens; the [MASK] token is the extra id ``vocab_size``
(input only: the output head has ``vocab_size`` logits, so the model never predicts [MASK]).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

ARCHS = ("thought", "baseline")
EVICTIONS = ("learned", "recency")


@dataclass
class ThoughtConfig:
    """Everything that defines a model (saved as ``config.json`` beside the weights)."""

    arch: str = "thought"
    vocab_size: int = 2048
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 344
    n_layers: int = 4
    max_seq_len: int = 256
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    slots: int = 4  # S: thoughts kept on the stack
    height: int = 4  # H x W cells per thought
    width: int = 4
    d_thought: int = 64  # width of one cell
    eviction: str = "learned"  # learned score (writer's head) or recency (newest kept)

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.eviction not in EVICTIONS:
            raise ValueError(f"eviction must be one of {EVICTIONS}, got {self.eviction!r}")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError("d_model must split into n_heads heads of even size")
        for name in ("vocab_size", "n_layers", "max_seq_len", "slots", "height", "width"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.d_thought < 1:
            raise ValueError(f"d_thought must be >= 1, got {self.d_thought}")

    @property
    def mask_id(self) -> int:
        """The [MASK] token's id (one past the text vocabulary)."""
        return self.vocab_size

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def has_thought(self) -> bool:
        return self.arch == "thought"

    @property
    def cells(self) -> int:
        return self.height * self.width

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThoughtConfig:
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown ThoughtConfig keys: {sorted(unknown)}")
        return cls(**d)
