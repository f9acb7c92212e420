"""Framework-agnostic pieces of the language-model backends (numpy only)."""

from mctd_tree.lm.base import TokenizerLM
from mctd_tree.lm.decode import DecodeBatch, Step, decode_steps
from mctd_tree.lm.prefix_cache import KVMatch, PrefixCache
from mctd_tree.lm.prefix_tree import CacheStats, Match, Node, PrefixTree, prefill_chunks
from mctd_tree.lm.sampling import (
    check_sampling,
    process_logprobs,
    sample_from_logprobs,
    sample_tokens,
)
from mctd_tree.lm.stopping import EOS_NAMES, Rows, find_eos
from mctd_tree.lm.validate import check_max_new_tokens, check_prefix, row_caps
from mctd_tree.lm.wrap import WrappedLM

__all__ = [
    "EOS_NAMES",
    "CacheStats",
    "DecodeBatch",
    "KVMatch",
    "Match",
    "Node",
    "PrefixCache",
    "PrefixTree",
    "Rows",
    "Step",
    "TokenizerLM",
    "WrappedLM",
    "check_max_new_tokens",
    "check_prefix",
    "check_sampling",
    "decode_steps",
    "find_eos",
    "prefill_chunks",
    "process_logprobs",
    "row_caps",
    "sample_from_logprobs",
    "sample_tokens",
]
