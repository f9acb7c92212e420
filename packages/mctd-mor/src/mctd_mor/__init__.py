"""Mixture-of-Recursions: shared recursive blocks, routers, recursion-aware KV caches, a MoR LM."""

from mctd_mor.config import ARCHS, MoRConfig, default_capacities
from mctd_mor.depthwise import DepthwiseOutput, decode_depthwise
from mctd_mor.flops import FlopCounter
from mctd_mor.io import MoRLoadError, load_config, load_model, save_model
from mctd_mor.kv import KV, MoRCache
from mctd_mor.lm import MoRLM, SplitComputeLM
from mctd_mor.model import Compute, MoRForCausalLM, MoROutput
from mctd_mor.routers import capacity_k

__all__ = [
    "ARCHS",
    "KV",
    "Compute",
    "DepthwiseOutput",
    "FlopCounter",
    "MoRCache",
    "MoRConfig",
    "MoRForCausalLM",
    "MoRLM",
    "MoRLoadError",
    "MoROutput",
    "SplitComputeLM",
    "capacity_k",
    "decode_depthwise",
    "default_capacities",
    "load_config",
    "load_model",
    "save_model",
]
