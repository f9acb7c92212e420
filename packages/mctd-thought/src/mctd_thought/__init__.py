"""mctd-thought: a masked-diffusion LM with a persistent thought stack, its samplers, and search
over unmasking."""

from importlib.metadata import version as _version

from mctd_thought.config import ARCHS, ThoughtConfig
from mctd_thought.io import ThoughtLoadError, load_config, load_model, save_model
from mctd_thought.layers import KVCache
from mctd_thought.lm import ThoughtLM
from mctd_thought.loss import (
    LossOut,
    mdlm_loss,
    nll_bound,
    nll_bound_rows,
    segment_loss,
    split_segments,
)
from mctd_thought.model import MaskedDiffusionLM
from mctd_thought.sampling import DecodeConfig, Decoder, DecodeStats, Generated, generate
from mctd_thought.search import KeywordReward, UnmaskProblem
from mctd_thought.stack import ThoughtStack, ThoughtWriter

__version__ = _version("mctd-thought")

__all__ = [
    "ARCHS",
    "DecodeConfig",
    "DecodeStats",
    "Decoder",
    "Generated",
    "KVCache",
    "KeywordReward",
    "LossOut",
    "MaskedDiffusionLM",
    "ThoughtConfig",
    "ThoughtLM",
    "ThoughtLoadError",
    "ThoughtStack",
    "ThoughtWriter",
    "UnmaskProblem",
    "generate",
    "load_config",
    "load_model",
    "mdlm_loss",
    "nll_bound",
    "nll_bound_rows",
    "save_model",
    "segment_loss",
    "split_segments",
]
