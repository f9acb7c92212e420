"""What every language model trained on the story corpus shares (``mctd-train mor``, ``thought``).

The run settings (`CorpusLMConfig`: sizes, steps, the trapezoid schedule, the validation split, the
corpus), the data (the verified corpus, or ``--dataset`` through HF ``datasets``, split by a hash
of each story into one token stream per split), the fit (AdamW under `TrapezoidConfig` in the
trainer's checkpointed, resumable `train_loop`) and the export (``model/`` with the tokenizer and
``metrics.json``). A command adds its model settings, loss and validation.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
import torch
from mctd_tree.errors import UserError
from torch import nn

from mctd_trainer import checkpoints
from mctd_trainer.loop import EvalFn, LoopConfig, LoopResult, LossFn, make_accelerator, train_loop
from mctd_trainer.rundir import load_config


@dataclass
class TrapezoidConfig(LoopConfig):
    """Linear warm-up over ``warmup`` steps, constant, linear cool-down over the last
    ``cooldown_frac`` of the steps to 0 (warm-up-stable-decay)."""

    cooldown_frac: float = 0.2

    def lr_at(self, step: int) -> float:
        if step < self.warmup:
            return self.lr * (step + 1) / self.warmup
        cool = max(1, int(self.steps * self.cooldown_frac))
        left = self.steps - step
        return self.lr * min(1.0, left / cool)


@dataclass
class CorpusLMConfig:
    """Settings every corpus LM run has (a command's config adds its model's; saved as the run's
    ``config.json``). ``corpus_shards``: train on the corpus's first K shards (0: all)."""

    arch: str = ""
    d_model: int = 128
    n_heads: int = 4
    d_ff: int = 344
    n_layers: int = 4
    batch_size: int = 16
    steps: int = 2000
    lr: float = 3e-3
    warmup: int = 100
    cooldown_frac: float = 0.2
    seed: int = 0
    ckpt_every: int = 200
    val_frac: float = 0.02
    val_windows: int = 64
    corpus: str | None = None
    corpus_shards: int = 0
    dataset: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def schedule(self) -> TrapezoidConfig:
        return TrapezoidConfig(
            steps=self.steps,
            lr=self.lr,
            warmup=self.warmup,
            cooldown_frac=self.cooldown_frac,
            ckpt_every=self.ckpt_every,
            log_every=min(50, self.ckpt_every),
        )


def load_data(cfg: CorpusLMConfig) -> tuple[Any, np.ndarray, np.ndarray, Path]:
    """(tokenizer, train stream, validation stream, tokenizer.json path). Sets
    ``cfg.corpus_shards`` from 0 (all) to the shards read, so the run's saved config names its
    data and a resumed run reads the same stories after the corpus has grown."""
    from mctd_trainer.corpus import find_corpus, load_hf_texts, load_texts, load_tokenizer
    from mctd_trainer.corpus.generate import load_manifest
    from mctd_trainer.corpus.tokens import split_texts, token_stream

    folder = find_corpus(Path(cfg.corpus) if cfg.corpus else None)
    if cfg.dataset:
        texts = load_hf_texts(cfg.dataset)
    else:
        held = load_manifest(folder)  # load_texts verifies every checksum (and a missing one)
        cfg.corpus_shards = cfg.corpus_shards or len(held["shards"] if held else ())
        texts = load_texts(folder, shards=cfg.corpus_shards or None)
    tok = load_tokenizer(folder)
    train, val = split_texts(texts, cfg.val_frac)
    return tok, token_stream(train, tok), token_stream(val, tok), folder / "tokenizer.json"


C = TypeVar("C", bound="CorpusLMConfig")


def check_resume(run_dir: Path, cfg: C, same: Sequence[str] = ()) -> C:
    """The saved config of ``run_dir`` with ``cfg``'s step count; refuse a run whose ``arch`` or
    any field in ``same`` differs (its checkpoints are of another architecture)."""
    raw = load_config(run_dir)
    keys = ("arch", *same)
    if any(raw.get(k) != getattr(cfg, k) for k in keys):
        held = ", ".join(f"{k}={raw.get(k)}" for k in keys)
        asked = ", ".join(f"{k}={getattr(cfg, k)}" for k in keys)
        raise UserError(
            f"{run_dir} holds a run with {held}, not {asked}: its checkpoints are of another "
            "architecture"
        )
    saved = type(cfg).from_dict(raw)
    saved.steps = cfg.steps
    return saved


def fit(
    model: nn.Module,
    cfg: CorpusLMConfig,
    run_dir: Path,
    loss_fn: LossFn,
    evaluate: EvalFn,
    *,
    resume: bool,
    threads: int,
    meta: dict[str, Any],
) -> LoopResult:
    """AdamW on ``loss_fn`` under the run's trapezoid schedule, checkpointed and resumable; a
    checkpoint that does not fit ``model`` is a `checkpoints.CheckpointError`."""
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.1, betas=(0.9, 0.95))
    try:
        return train_loop(
            model,
            opt,
            loss_fn,
            cfg.schedule(),
            run_dir,
            accelerator=make_accelerator("cpu", threads),
            resume=resume,
            meta=meta,
            evaluate=evaluate,
        )
    except RuntimeError as e:
        if "state_dict" in str(e) or "size mismatch" in str(e):
            raise checkpoints.CheckpointError(
                f"checkpoint in {run_dir} does not fit a {cfg.arch} model: {e}"
            ) from e
        raise


def export(
    save_model: Callable[..., Any],
    model: nn.Module,
    run_dir: Path,
    tokenizer_json: Path,
    metrics: dict[str, Any],
) -> None:
    """Write ``model/`` (the package's ``save_model`` with the metrics, and the tokenizer) and
    ``metrics.json``."""
    save_model(model, run_dir / "model", extra={"metrics": metrics})
    shutil.copyfile(tokenizer_json, run_dir / "model" / "tokenizer.json")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1) + "\n")


def run_command(
    name: str,
    make_config: Callable[[], C],
    out: Path | None,
    *,
    resume: bool,
    threads: int,
    check: Callable[[Path, C], C],
    train: Callable[..., dict[str, Any]],
) -> tuple[dict[str, Any], Path]:
    """The body of ``mctd-train NAME``: validate the settings (bad values are user errors), take
    the run directory (``--out`` or a new ``runs/<time>-NAME-ARCH``) under its lock, refuse a fresh
    run over checkpoints or resume one of the same architecture (``check``), and train.
    Returns (metrics, run directory)."""
    from mctd_tree.errors import user_errors

    from mctd_trainer.guard import check_fresh, check_out, errors
    from mctd_trainer.rundir import locked, new_run_dir

    prog = f"mctd-train {name}"
    where: list[Path] = []
    with errors(prog, where):
        check_out(out, resume)
        with user_errors():  # validation: a ValueError here is bad input
            cfg = make_config()
        run_dir = out or new_run_dir(f"{name}-{cfg.arch}")
        with locked(run_dir, prog):
            where.append(run_dir)
            if resume:
                cfg = check(run_dir, cfg)
            else:
                check_fresh(run_dir)
            return train(cfg, run_dir, resume=resume, threads=threads), run_dir
