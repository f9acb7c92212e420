"""Search problems: finite toy trees and a Gaussian walk (exact targets), and the LM problem."""

from mctd_tree.problems.gaussian_walk import GaussianWalk
from mctd_tree.problems.tokens import TokenSearchProblem, sample_from_logprobs
from mctd_tree.problems.toy import FiniteTree, deceptive_tree, random_tree
from mctd_tree.problems.toy_lm import ToyLM

__all__ = [
    "FiniteTree",
    "GaussianWalk",
    "TokenSearchProblem",
    "ToyLM",
    "deceptive_tree",
    "random_tree",
    "sample_from_logprobs",
]
