"""mctd-tree: array-backed search trees, tree-search algorithms and the protocols of mctd."""

from importlib.metadata import version as _version

from mctd_tree.algorithms import dts, dts_star, maxent_ts, mcts
from mctd_tree.baselines import beam_search, best_of_n, greedy
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
from mctd_tree.result import Budget, SearchResult, SearchStats
from mctd_tree.search import SearchConfig, TreeSearch, sample_tree
from mctd_tree.tree import Tree

__version__ = _version("mctd-tree")

__all__ = [
    "Budget",
    "Child",
    "Counters",
    "EnumerableProblem",
    "Generation",
    "LanguageModel",
    "Proposals",
    "Reward",
    "Rollout",
    "SamplingProblem",
    "SearchConfig",
    "SearchProblem",
    "SearchResult",
    "SearchStats",
    "Tree",
    "TreeSearch",
    "beam_search",
    "best_of_n",
    "dts",
    "dts_star",
    "greedy",
    "maxent_ts",
    "mcts",
    "sample_tree",
]
