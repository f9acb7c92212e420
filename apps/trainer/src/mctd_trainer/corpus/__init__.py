"""The offline story corpus (TinyStories recipe, written by SmolLM2-135M-Instruct) and its BPE.

Load it with `load_texts()` (verified; the cache folder if `mctd-train corpus` wrote one, else the
copy shipped in ``mctd_trainer/data/stories``) and `load_tokenizer()` (its ``tokenizer.json``).
"""

from mctd_trainer.corpus.generate import GenConfig, generate_corpus, story_prompt
from mctd_trainer.corpus.load import (
    PACKAGED,
    CorpusError,
    cache_dir,
    find_corpus,
    load_hf_texts,
    load_stories,
    load_texts,
    verify,
)
from mctd_trainer.corpus.tokenizer import load_tokenizer, save_tokenizer, train_bpe

__all__ = [
    "PACKAGED",
    "CorpusError",
    "GenConfig",
    "cache_dir",
    "find_corpus",
    "generate_corpus",
    "load_hf_texts",
    "load_stories",
    "load_texts",
    "load_tokenizer",
    "save_tokenizer",
    "story_prompt",
    "train_bpe",
    "verify",
]
