"""What a task plug-in provides: seeded instances, a prompt, a search reward, an evaluation.

An `Instance` splits what the search may see (``public``: the prompt's material) from the
ground truth (``truth``: used by `Task.evaluate` only). `Task.search_reward` receives ``public``
and, only for tasks whose reward *is* an exact verifier (``reward_sees_truth = True``, e.g. arith),
the truth as ``verifier``; for every other task the runner passes ``verifier=None`` and a test
checks that a poisoned truth leaves the search reward unchanged.

Task parameters are dataclass fields (JSON-friendly); ``seed`` picks the instances.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, ClassVar

from mctd_tree.protocols import LanguageModel, Reward


@dataclass(frozen=True)
class Instance:
    """One prompt of a task: ``index`` in the task's seeded sequence, a short ``label``."""

    index: int
    label: str
    public: Any
    truth: Any


@dataclass(frozen=True)
class TaskBase(ABC):
    """Base of the task plug-ins; subclasses are dataclasses whose fields are the parameters."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    reward_sees_truth: ClassVar[bool] = False
    family: ClassVar[str] = "lm"  # which method registry applies: "lm", "diffusion" or "maze"
    metric_names: ClassVar[tuple[str, ...]] = ()
    max_instances: ClassVar[int | None] = None  # a fixed set of instances (None: unbounded)
    table_note: ClassVar[str] = ""  # printed under the task's table in summary.md
    seed: int = 0

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        """The resolved default parameters; the raw field defaults for a task that cannot be
        built without parameters (e.g. prompts, which needs a file)."""
        try:
            return cls().params()
        except (ValueError, TypeError):
            pass
        out: dict[str, Any] = {}
        for f in fields(cls):
            if f.default is not MISSING:
                out[f.name] = _jsonable(f.default)
            elif f.default_factory is not MISSING:
                out[f.name] = _jsonable(f.default_factory())
        return out

    @classmethod
    def param_names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> TaskBase:
        """Build from a parameter dict; unknown names raise with the valid ones listed."""
        unknown = sorted(set(params) - set(cls.param_names()))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for task {cls.name!r}; "
                f"valid: {', '.join(cls.param_names())}"
            )
        return cls(**params)

    def params(self) -> dict[str, Any]:
        """The resolved parameters (defaults filled in), as saved in the run config."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}

    # The plug-in interface --------------------------------------------------------------
    @abstractmethod
    def instances(self, n: int) -> list[Instance]:
        """The first ``n`` seeded instances of the task."""

    def instance_cap(self) -> int | None:
        """How many instances the task has (None: unbounded); caps ``--prompts``."""
        return self.max_instances

    def references(self) -> tuple[str, ...]:
        """Model-free reference methods run once per prompt at NFE 0 (e.g. forecast baselines)."""
        return ()

    def reference(
        self, method: str, public: Any, truth: Any
    ) -> tuple[str, float, dict[str, float]]:
        """(answer text, search reward, task metrics incl. ``success``) of a reference method."""
        raise ValueError(f"task {self.name!r} has no reference method {method!r}")

    # Language-model tasks implement the rest; a diffusion task has no prompt or completion text.
    def max_new_tokens(self, public: Any) -> int:
        raise self._not_lm("max_new_tokens")

    def stop(self) -> tuple[str, ...]:
        return ("\n",)

    def prompt_ids(self, lm: LanguageModel, public: Any) -> list[int]:
        raise self._not_lm("prompt_ids")

    def search_reward(
        self, lm: LanguageModel, prompt_ids: Sequence[int], public: Any, *, verifier: Any = None
    ) -> Reward[str]:
        raise self._not_lm("search_reward")

    def evaluate(self, text: str, public: Any, truth: Any) -> dict[str, float]:
        """Task metrics of one completion text, including ``success`` (1.0 or 0.0)."""
        raise self._not_lm("evaluate")

    def _not_lm(self, what: str) -> TypeError:
        return TypeError(f"task {self.name!r} ({self.family} family) has no {what}: not an LM task")


def _jsonable(v: Any) -> Any:
    return list(v) if isinstance(v, tuple) else v
