from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_trainer.corpus import save_tokenizer, train_bpe
from mctd_trainer.corpus.generate import write_corpus

torch.set_num_threads(1)  # tiny models on a shared 2-core machine: one thread is much faster


@pytest.fixture(scope="session")
def make_tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], Path]:
    """A maker of verified corpus folders: ``stories`` short templated stories, a 320-entry BPE."""

    def make(stories: int) -> Path:
        rng = np.random.default_rng(0)
        names, things = ["Tom", "Lily", "Ben", "Mia"], ["ball", "cat", "tree", "cake", "kite"]
        texts = [
            f"{rng.choice(names)} had a {rng.choice(things)}. {rng.choice(names)} liked the "
            f"{rng.choice(things)} very much. They played all day. {i}"
            for i in range(stories)
        ]
        folder = tmp_path_factory.mktemp("corpus")
        write_corpus(folder, texts, seed=0, generator={"test": True}, shard_size=100)
        save_tokenizer(train_bpe(texts, vocab_size=320), folder)
        return folder

    return make
