"""``mctd-train thought``: masked-diffusion LMs with or without the thought stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def thought(
    arch: Annotated[str, typer.Option(help="thought (with the stack) or baseline.")] = "thought",
    d_model: Annotated[int, typer.Option(min=8)] = 128,
    heads: Annotated[int, typer.Option(min=1)] = 4,
    d_ff: Annotated[int, typer.Option(min=8)] = 344,
    layers: Annotated[int, typer.Option(min=1)] = 4,
    slots: Annotated[int, typer.Option(min=1, help="Thoughts kept on the stack (S).")] = 4,
    height: Annotated[int, typer.Option(min=1, help="Rows of a thought (H).")] = 4,
    width: Annotated[int, typer.Option(min=1, help="Columns of a thought (W).")] = 4,
    d_thought: Annotated[int, typer.Option(min=1, help="Width of one cell.")] = 64,
    eviction: Annotated[str, typer.Option(help="learned (writer's score) or recency.")] = "learned",
    seg_len: Annotated[int, typer.Option(min=2, help="Tokens per segment.")] = 64,
    n_seg: Annotated[int, typer.Option(min=1, help="Consecutive segments per example.")] = 3,
    batch_size: Annotated[int, typer.Option(min=1)] = 8,
    steps: Annotated[int, typer.Option(min=1)] = 1000,
    lr: Annotated[float, typer.Option(min=0.0)] = 3e-3,
    warmup: Annotated[int, typer.Option(min=1)] = 50,
    cooldown: Annotated[float, typer.Option(min=0.0, max=1.0, help="Cool-down fraction.")] = 0.2,
    seed: Annotated[int, typer.Option()] = 0,
    ckpt_every: Annotated[int, typer.Option(min=1)] = 100,
    val_samples: Annotated[int, typer.Option(min=1, help="(t, mask) draws per val window.")] = 4,
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
        Path | None, typer.Option(help="Run dir (default runs/<time>-thought-ARCH).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out.")] = False,
    threads: Annotated[int, typer.Option(min=0)] = 1,
) -> None:
    """Train a masked-diffusion LM (MDLM objective) with or without the thought stack."""
    from mctd_trainer.corpus_lm import run_command
    from mctd_trainer.thought import ThoughtTrainConfig, check_resume, model_config, train_thought

    def config() -> ThoughtTrainConfig:
        cfg = ThoughtTrainConfig(
            arch=arch,
            d_model=d_model,
            n_heads=heads,
            d_ff=d_ff,
            n_layers=layers,
            slots=slots,
            height=height,
            width=width,
            d_thought=d_thought,
            eviction=eviction,
            seg_len=seg_len,
            n_seg=n_seg,
            batch_size=batch_size,
            steps=steps,
            lr=lr,
            warmup=warmup,
            cooldown_frac=cooldown,
            seed=seed,
            ckpt_every=ckpt_every,
            val_samples=val_samples,
            corpus=str(corpus) if corpus else None,
            corpus_shards=corpus_shards,
            dataset=dataset,
        )
        model_config(cfg, 2048)  # checks sizes (heads, eviction) before the run dir exists
        return cfg

    m, run_dir = run_command(
        "thought",
        config,
        out,
        resume=resume,
        threads=threads,
        check=check_resume,
        train=train_thought,
    )
    ctx = f", {m['val_bound_ctx']:.4f} on segments with a context" if "val_bound_ctx" in m else ""
    typer.echo(
        f"{m['arch']}: val NLL bound {m['val_bound']:.4f} nats/token{ctx} after {m['steps']} "
        f"steps, {m['params']} params"
    )
    typer.echo(f"run directory: {run_dir}")
