"""Search problems: finite toy trees (exact targets), and the token-level LM problem."""

from mctd_tree.problems.tokens import TokenSearchProblem, sample_from_logprobs
from mctd_tree.problems.toy import FiniteTree, deceptive_tree, random_tree
from mctd_tree.problems.toy_lm import ToyLM

__all__ = [
    "FiniteTree",
    "TokenSearchProblem",
    "ToyLM",
    "deceptive_tree",
    "random_tree",
    "sample_from_logprobs",
]
