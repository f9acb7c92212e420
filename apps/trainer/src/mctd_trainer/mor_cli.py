"""``mctd-train mor``: train vanilla / recursive / MoR-EC / MoR-TC language models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def mor(
    arch: Annotated[str, typer.Option(help="vanilla, recursive, mor-ec or mor-tc.")] = "mor-ec",
    nr: Annotated[int, typer.Option(help="Recursions N_r of the shared block (2 or 3).")] = 3,
    sharing: Annotated[str, typer.Option(help="middle_cycle or cycle.")] = "middle_cycle",
    kv_mode: Annotated[str, typer.Option(help="recursion (per-depth KV) or share.")] = "recursion",
    d_model: Annotated[int, typer.Option(min=8)] = 128,
    heads: Annotated[int, typer.Option(min=1)] = 4,
    d_ff: Annotated[int, typer.Option(min=8)] = 344,
    layers: Annotated[int, typer.Option(min=1, help="Unique layers.")] = 4,
    seq_len: Annotated[int, typer.Option(min=8)] = 128,
    batch_size: Annotated[int, typer.Option(min=1)] = 16,
    steps: Annotated[int, typer.Option(min=1)] = 2000,
    lr: Annotated[float, typer.Option(min=0.0)] = 3e-3,
    warmup: Annotated[int, typer.Option(min=1)] = 100,
    cooldown: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cool-down fraction.")] = 0.2,
    seed: Annotated[int, typer.Option()] = 0,
    ckpt_every: Annotated[int, typer.Option(min=1)] = 200,
    corpus: Annotated[
        Path | None, typer.Option(help="Corpus folder (default: cache, else the shipped one).")
    ] = None,
    corpus_shards: Annotated[
        int, typer.Option(min=0, help="Use the corpus's first K shards (0: all).")
    ] = 0,
    dataset: Annotated[
        str | None, typer.Option(help="HF dataset instead, e.g. roneneldan/TinyStories.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Run dir (default runs/<time>-mor-ARCH).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    threads: Annotated[int, typer.Option(min=0)] = 1,
) -> None:
    """Train a causal LM with (or without) Mixture-of-Recursions on the story corpus."""
    from mctd_trainer.corpus_lm import run_command
    from mctd_trainer.mor import MorTrainConfig, check_resume, model_config, train_mor

    def config() -> MorTrainConfig:
        cfg = MorTrainConfig(
            arch=arch,
            n_recursion=nr,
            sharing=sharing,
            kv_mode=kv_mode,
            d_model=d_model,
            n_heads=heads,
            d_ff=d_ff,
            n_layers=layers,
            seq_len=seq_len,
            batch_size=batch_size,
            steps=steps,
            lr=lr,
            warmup=warmup,
            cooldown_frac=cooldown,
            seed=seed,
            ckpt_every=ckpt_every,
            corpus=str(corpus) if corpus else None,
            corpus_shards=corpus_shards,
            dataset=dataset,
        )
        model_config(cfg, 2048)  # checks arch, N_r, sharing and sizes before the run dir exists
        return cfg

    m, run_dir = run_command(
        "mor", config, out, resume=resume, threads=threads, check=check_resume, train=train_mor
    )
    typer.echo(
        f"{m['arch']} N_r={m['n_recursion']}: val NLL {m['val_nll']:.4f} after {m['steps']} steps, "
        f"{m['train_flops']:.3e} training FLOPs, {m['unique_params']} params"
    )
    typer.echo(f"run directory: {run_dir}")
