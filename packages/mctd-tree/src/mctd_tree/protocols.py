"""The narrow interfaces every mctd package implements.

The search algorithms only ever talk to a problem through these protocols, and always in batches:
one call expands, steps or rolls out a whole list of nodes, so that a problem backed by a neural
network does one batched forward pass per call. States are opaque to the tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

S = TypeVar("S")
T_contra = TypeVar("T_contra", contravariant=True)


@dataclass
class Counters:
    """Honest compute counters kept by a problem (or a language model).

    ``nfe`` counts model forward work in the problem's own unit (token positions processed for an
    LLM, network calls per batch element for a diffusion model, guided calls counting their
    backward), rollouts included. ``calls`` counts sequential batched model calls: the latency a
    batched, parallel search actually pays. A language model also reports two parts of ``nfe``:
    ``padded`` (left-padding positions a ragged batch computed) and ``reads`` (next-token
    distributions read from a cached position with no position computed for them, each counted
    as one position).
    """

    nfe: int = 0
    calls: int = 0
    padded: int = 0
    reads: int = 0

    def snapshot(self) -> Counters:
        return Counters(self.nfe, self.calls, self.padded, self.reads)

    def reset(self) -> None:
        """Zero every counter in place (holders of this object see the reset)."""
        self.nfe = self.calls = self.padded = self.reads = 0

    def since(self, start: Counters) -> Counters:
        return Counters(
            self.nfe - start.nfe,
            self.calls - start.calls,
            self.padded - start.padded,
            self.reads - start.reads,
        )


@dataclass
class Child(Generic[S]):
    """One drawn child: the edge's action id, the child state and log p_theta(action | parent)."""

    action: int
    state: S
    log_prior: float


@dataclass
class Proposals:
    """Candidate actions of one node with their log-priors (distinct actions, e.g. the top-k)."""

    actions: np.ndarray
    log_priors: np.ndarray

    def __post_init__(self) -> None:
        self.actions = np.asarray(self.actions, dtype=np.int64)
        self.log_priors = np.asarray(self.log_priors, dtype=np.float64)
        if self.actions.shape != self.log_priors.shape or self.actions.ndim != 1:
            raise ValueError("Proposals need 1-D actions and log_priors of the same length")
        if len(np.unique(self.actions)) != len(self.actions):
            raise ValueError("Proposals must hold distinct actions")


@dataclass
class Rollout(Generic[S]):
    """A completion from a state to a terminal state.

    ``path`` lists the edges taken (empty when the start state was already terminal); ``reward`` is
    the terminal's reward. Algorithms that keep rollout states (DTS) add ``path`` to the tree.
    ``info["stop"] = True`` asks the search to stop after this iteration (e.g. MCTD's early stop
    once a partial plan reaches the goal).
    """

    path: list[Child[S]]
    reward: float
    terminal: S
    info: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class SearchProblem(Protocol[S]):
    """What every search needs: a root, a terminal test, batched rollouts and counters."""

    counters: Counters

    def root(self) -> S: ...

    def is_terminal(self, state: S) -> bool: ...

    def rollout(self, states: Sequence[S], rng: np.random.Generator) -> list[Rollout[S]]:
        """Complete every state to a terminal with p_theta, in one batched job; score it."""
        ...


@runtime_checkable
class SamplingProblem(SearchProblem[S], Protocol[S]):
    """A problem whose children are drawn from p_theta (DTS, DTS*, best-of-N).

    ``sample`` draws one child per state. Two draws with the same ``action`` are the same child
    (the tree then counts its multiplicity); continuous problems give every draw a fresh action.
    """

    def sample(self, states: Sequence[S], rng: np.random.Generator) -> list[Child[S]]: ...


@runtime_checkable
class EnumerableProblem(SearchProblem[S], Protocol[S]):
    """A problem whose children can be enumerated (MCTS, MaxEnt-TS, greedy, beam).

    ``propose`` lists up to ``k`` distinct candidate actions per state with log-priors (a cheap call
    for meta-actions, one batched forward pass for an LM); ``step`` materialises the chosen
    children in one batched call (free for tokens, a denoising segment for MCTD).
    """

    def propose(self, states: Sequence[S], k: int) -> list[Proposals]: ...

    def step(self, states: Sequence[S], actions: Sequence[int]) -> list[S]: ...


@runtime_checkable
class Reward(Protocol[T_contra]):
    """A batched reward: one float per object. Rewards score outputs, never the ground truth."""

    def __call__(self, xs: Sequence[T_contra], /) -> np.ndarray: ...


@dataclass
class Generation:
    """One rollout of a language model from a prefix."""

    tokens: list[int]
    logprobs: np.ndarray  # raw log p_theta of each token
    finish_reason: str  # "eos", "stop" (a stop string) or "length"
    # log-probability of each token under the distribution it was drawn from (temperature, top-k,
    # top-p applied; 0 at temperature 0); None when the model does not report it
    logq: np.ndarray | None = None


@runtime_checkable
class LanguageModel(Protocol):
    """A causal LM as mctd searches it; implemented by mctd-llm-torch and mctd-llm-mlx.

    Prefixes are token-id sequences (tree nodes). Implementations reuse cached key/values for any
    prefix they computed before, so that a search never pays twice for the same position, and count
    their work in ``counters`` (``nfe`` = positions processed, ``calls`` = forward calls).
    """

    counters: Counters

    @property
    def eos_token_ids(self) -> frozenset[int]: ...

    @property
    def vocab_size(self) -> int: ...

    @property
    def max_context(self) -> int: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def chat_prompt(self, messages: Sequence[dict[str, str]]) -> list[int]:
        """Token ids of a chat under the model's template, ready for the assistant's answer."""
        ...

    def next_logprobs(self, prefixes: Sequence[Sequence[int]]) -> np.ndarray:
        """Log-probabilities of the next token, shape (len(prefixes), vocab_size), float32."""
        ...

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
        """Batched sampling with per-row stop; temperature 0 is greedy. ``max_new_tokens`` is one
        cap for every row or one per row (a ragged batch in one call)."""
        ...

    def reset_counters(self) -> None: ...
