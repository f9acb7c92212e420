"""Search problems: finite toy trees (exact targets), and the token-level LM problem."""

from mctd_tree.problems.toy import FiniteTree, deceptive_tree, random_tree

__all__ = ["FiniteTree", "deceptive_tree", "random_tree"]
