"""The settings of one answer, validated together, JSON-ready (saved with every answer)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from mctd_chat.errors import SettingsError
from mctd_chat.methods import get_method
from mctd_chat.rewards import RewardSpec, check_schema, load_python, parse_reward


@dataclass(frozen=True)
class Settings:
    """``budget``: NFE (positions) a search may spend; ``temperature``/``top_p``: how sampling and
    rollouts draw; ``schema``: a JSON Schema for the json reward; ``seed``: the search's rng."""

    method: str = "greedy"
    budget: int = 512
    reward: str = "likelihood"
    schema: dict[str, Any] | None = None
    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256
    seed: int = 0

    def __post_init__(self) -> None:
        get_method(self.method)
        self.reward_spec()
        if isinstance(self.budget, bool) or not isinstance(self.budget, int) or self.budget < 1:
            raise SettingsError(f"budget must be an integer >= 1 (NFE), got {self.budget!r}")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise SettingsError(f"temperature must be a finite number >= 0, got {t!r}")
        p = self.top_p
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
            raise SettingsError(f"top_p must be in (0, 1], got {p!r}")
        m = self.max_tokens
        if isinstance(m, bool) or not isinstance(m, int) or m < 1:
            raise SettingsError(f"max_tokens must be an integer >= 1, got {m!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise SettingsError(f"seed must be an integer >= 0, got {self.seed!r}")
        if self.schema is not None:
            if self.reward_spec().kind != "json":
                raise SettingsError("a JSON schema only applies to the json reward")
            check_schema(self.schema)

    def reward_spec(self) -> RewardSpec:
        return parse_reward(self.reward)

    def check_python(self) -> None:
        """Import a ``python:`` reward now, so that a typo fails before any model work."""
        spec = self.reward_spec()
        if spec.kind == "python":
            assert spec.arg is not None
            load_python(spec.arg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        """Build from saved settings; unknown keys raise with the valid ones listed."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(names))}"
            )
        return cls(**data)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (and validated)."""
        return replace(self, **changes)
