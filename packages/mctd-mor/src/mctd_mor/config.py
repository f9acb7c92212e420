"""`MoRConfig`: sizes, parameter sharing, router and KV-cache mode of a MoR causal LM.

One code path covers every architecture: ``vanilla`` is Cycle sharing with one recursion (every
layer unique), ``recursive`` applies the shared block a fixed ``n_recursion`` times to every token,
``mor-ec`` / ``mor-tc`` route each token to its own depth with an expert-choice / token-choice
router. ``n_layers`` counts unique layers: Middle-Cycle keeps the first and last unique and cycles
the ``n_layers - 2`` between them; Cycle cycles all ``n_layers``.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

ARCHS = ("vanilla", "recursive", "mor-ec", "mor-tc")
SHARINGS = ("cycle", "middle_cycle")
KV_MODES = ("recursion", "share")


def default_capacities(n_recursion: int) -> tuple[float, ...]:
    """The paper's schedule: depth j keeps (N_r - j + 1) / N_r of the tokens (3/3, 2/3, 1/3)."""
    return tuple((n_recursion - j) / n_recursion for j in range(n_recursion))


@dataclass
class MoRConfig:
    """Everything that defines a MoR model (saved as ``config.json`` next to the weights)."""

    arch: str = "mor-ec"
    vocab_size: int = 4096
    d_model: int = 256
    n_heads: int = 4
    d_ff: int = 688
    n_layers: int = 4
    n_recursion: int = 2
    sharing: str = "middle_cycle"
    capacities: tuple[float, ...] = ()
    alpha: float = 0.1
    kv_mode: str = "recursion"
    max_seq_len: int = 512
    rope_theta: float = 10000.0
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    bce_coef: float = 1e-3
    balance_coef: float = 0.1
    z_coef: float = 1e-5
    threshold: float = 0.5
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.capacities = tuple(float(c) for c in self.capacities)
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {ARCHS}, got {self.arch!r}")
        if self.sharing not in SHARINGS:
            raise ValueError(f"sharing must be one of {SHARINGS}, got {self.sharing!r}")
        if self.kv_mode not in KV_MODES:
            raise ValueError(f"kv_mode must be one of {KV_MODES}, got {self.kv_mode!r}")
        if self.n_recursion < 1:
            raise ValueError(f"n_recursion (N_r) must be >= 1, got {self.n_recursion}")
        if self.arch == "vanilla" and self.n_recursion != 1:
            raise ValueError("arch 'vanilla' has n_recursion 1 (every layer unique)")
        if self.d_model % self.n_heads or (self.d_model // self.n_heads) % 2:
            raise ValueError("d_model must split into n_heads heads of even size")
        if self.n_block < 1:
            raise ValueError(f"{self.sharing} with n_layers={self.n_layers} leaves no shared block")
        if not self.capacities:
            self.capacities = default_capacities(self.n_recursion)
        check_capacities(self.capacities, self.n_recursion)
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold}")

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def n_first(self) -> int:
        """Unique layers before the shared block."""
        return 1 if self.sharing == "middle_cycle" and self.arch != "vanilla" else 0

    @property
    def n_last(self) -> int:
        """Unique layers after the shared block."""
        return self.n_first

    @property
    def n_block(self) -> int:
        """Layers in the shared block (applied up to ``n_recursion`` times)."""
        return self.n_layers - self.n_first - self.n_last

    @property
    def router(self) -> str:
        """``expert``, ``token`` or ``none`` (every token takes every recursion)."""
        return {"mor-ec": "expert", "mor-tc": "token"}.get(self.arch, "none")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["capacities"] = list(self.capacities)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MoRConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown MoRConfig keys: {sorted(unknown)}")
        return cls(**d)


def check_capacities(capacities: tuple[float, ...], n_recursion: int) -> None:
    """Capacities: one per recursion, each in (0, 1], non-increasing (hierarchical filtering)."""
    if len(capacities) != n_recursion:
        raise ValueError(f"need {n_recursion} capacities (one per recursion), got {capacities}")
    for c in capacities:
        if not (0.0 < c <= 1.0) or math.isnan(c):
            raise ValueError(f"capacity must be in (0, 1], got {c}")
    if any(b > a for a, b in itertools.pairwise(capacities)):
        raise ValueError(f"capacities must not increase with depth, got {capacities}")
