"""mctd-tree: array-backed search trees, tree-search algorithms and the protocols of mctd."""

from mctd_tree.protocols import (
    Child,
    Counters,
    EnumerableProblem,
    Generation,
    LanguageModel,
    Proposals,
    Reward,
    Rollout,
    SamplingProblem,
    SearchProblem,
)

__version__ = "0.1.0"

__all__ = [
    "Child",
    "Counters",
    "EnumerableProblem",
    "Generation",
    "LanguageModel",
    "Proposals",
    "Reward",
    "Rollout",
    "SamplingProblem",
    "SearchProblem",
]
