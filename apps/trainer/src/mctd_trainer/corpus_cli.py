"""``mctd-train corpus``: generate (or resume) the story corpus and train its BPE tokenizer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def corpus(
    shards: Annotated[int, typer.Option(min=1, help="Shards to have in the end (resumes).")] = 64,
    out: Annotated[
        Path | None, typer.Option(help="Corpus folder (default $MCTD_CACHE/corpus/stories-seedN).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the prompts and the sampling.")] = 0,
    batch_size: Annotated[
        int, typer.Option(min=1, help="Stories sampled together (64: fastest measured on CPU).")
    ] = 64,
    shard_size: Annotated[int, typer.Option(min=1, help="Prompts per shard.")] = 256,
    max_new_tokens: Annotated[int, typer.Option(min=16)] = 320,
    vocab_size: Annotated[int, typer.Option(min=300, help="BPE vocabulary size.")] = 4096,
    threads: Annotated[int, typer.Option(min=0, help="torch CPU threads (0: default).")] = 2,
    tokenizer_only: Annotated[
        bool, typer.Option(help="Only (re)train tokenizer.json on the shards already there.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Write TinyStories-style stories with the embedded SmolLM2-135M-Instruct, then a BPE."""
    from mctd_trainer.corpus import (
        GenConfig,
        cache_dir,
        generate_corpus,
        load_texts,
        save_tokenizer,
        train_bpe,
    )
    from mctd_trainer.guard import errors
    from mctd_trainer.rundir import locked

    folder = out or cache_dir(seed)
    with errors("mctd-train corpus", [folder]), locked(folder, "mctd-train corpus"):
        if not tokenizer_only:
            import torch

            if threads:
                torch.set_num_threads(threads)
            cfg = GenConfig(
                seed=seed,
                batch_size=batch_size,
                shard_size=shard_size,
                max_new_tokens=max_new_tokens,
            )
            generate_corpus(folder, cfg, shards=shards, progress=progress, log=typer.echo)
        texts = load_texts(folder)
        path = save_tokenizer(train_bpe(texts, vocab_size), folder)
    typer.echo(f"corpus {folder}: {len(texts)} stories; tokenizer {path}")
