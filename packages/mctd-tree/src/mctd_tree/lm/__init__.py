"""Framework-agnostic pieces of the language-model backends (numpy only)."""

from mctd_tree.lm.base import TokenizerLM
from mctd_tree.lm.prefix_tree import CacheStats, Match, Node, PrefixTree, prefill_chunks
from mctd_tree.lm.stopping import EOS_NAMES, Rows, find_eos
from mctd_tree.lm.validate import check_max_new_tokens, check_prefix, row_caps
from mctd_tree.lm.wrap import WrappedLM

__all__ = [
    "EOS_NAMES",
    "CacheStats",
    "Match",
    "Node",
    "PrefixTree",
    "Rows",
    "TokenizerLM",
    "WrappedLM",
    "check_max_new_tokens",
    "check_prefix",
    "find_eos",
    "prefill_chunks",
    "row_caps",
]
