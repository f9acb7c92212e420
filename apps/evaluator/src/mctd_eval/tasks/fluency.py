"""Fluency of a completion: the mean log-probability of its tokens under the model, given the
prompt (keywords reward: texts re-encoded; perplexity: token ids as generated). The one copy lives
in `mctd_tree.lm.likelihood`, shared with the chat app's likelihood reward."""

from mctd_tree.lm.likelihood import FLOOR, mean_logprob, token_logprobs

__all__ = ["FLOOR", "mean_logprob", "token_logprobs"]
