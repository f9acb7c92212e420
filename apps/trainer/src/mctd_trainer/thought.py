"""``mctd-train thought``: masked-diffusion LMs with (``thought``) or without (``baseline``) the
thought stack, on consecutive segments of the story corpus.

Data: the verified story corpus split by a hash of each story (`corpus.tokens.split_texts`), one
token stream per split (the corpus BPE). A training example is a window of ``n_seg * seg_len``
consecutive tokens cut into ``n_seg`` segments; the thought model denoises segment i reading the
stack written from segments < i (gradients through the writes), the baseline denoises each
segment alone (same windows, same masks, same steps). The batch and the masks of step s come from
seeds (seed, s), so a resumed run equals an uninterrupted one. Schedule: trapezoid. Each checkpoint
logs the validation NLL bound (nats/token, `mctd_thought.nll_bound`) per segment to TensorBoard;
the end exports ``model/`` (`mctd_thought.save_model` + the tokenizer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mctd_tree.errors import UserError
from torch import nn

from mctd_trainer.corpus_lm import CorpusLMConfig, export, fit, load_data
from mctd_trainer.corpus_lm import check_resume as check_saved
from mctd_trainer.rundir import save_config


@dataclass
class ThoughtTrainConfig(CorpusLMConfig):
    """Model and run settings of ``mctd-train thought`` (saved as the run's ``config.json``)."""

    arch: str = "thought"
    batch_size: int = 8
    steps: int = 1000
    warmup: int = 50
    ckpt_every: int = 100
    val_frac: float = 0.1
    val_windows: int = 32
    slots: int = 4
    height: int = 4
    width: int = 4
    d_thought: int = 64
    eviction: str = "learned"
    seg_len: int = 64
    n_seg: int = 3
    val_samples: int = 4

    def __post_init__(self) -> None:
        from mctd_thought import ARCHS

        if self.arch not in ARCHS:
            raise UserError(f"--arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        if self.n_seg < 1 or self.seg_len < 2:
            raise UserError("--n-seg must be >= 1 and --seg-len >= 2")


def model_config(cfg: ThoughtTrainConfig, vocab_size: int) -> Any:
    """The `ThoughtConfig` of a run."""
    from mctd_thought import ThoughtConfig

    return ThoughtConfig(
        arch=cfg.arch,
        vocab_size=vocab_size,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_ff=cfg.d_ff,
        n_layers=cfg.n_layers,
        max_seq_len=max(256, cfg.seg_len),
        slots=cfg.slots,
        height=cfg.height,
        width=cfg.width,
        d_thought=cfg.d_thought,
        eviction=cfg.eviction,
    )


def val_segments(cfg: ThoughtTrainConfig, val: np.ndarray) -> torch.Tensor:
    """The validation windows as ``(N, n_seg, seg_len)``."""
    from mctd_trainer.corpus.tokens import fixed_windows

    w = fixed_windows(val, cfg.n_seg * cfg.seg_len, cfg.val_windows)
    return torch.as_tensor(w, dtype=torch.long).view(-1, cfg.n_seg, cfg.seg_len)


def validation(model: Any, segs: torch.Tensor, samples: int) -> dict[str, float]:
    """The NLL bound per segment, over all segments, and over segments with a context (>= 1)."""
    from mctd_thought import nll_bound

    per = nll_bound(model, segs, samples=samples, seed=0)
    out = {f"eval/val_bound_seg{i}": float(v) for i, v in enumerate(per)}
    out["eval/val_bound"] = float(per.mean())
    if len(per) > 1:
        out["eval/val_bound_ctx"] = float(per[1:].mean())
    return out


def check_resume(run_dir: Path, cfg: ThoughtTrainConfig) -> ThoughtTrainConfig:
    """The saved config of ``run_dir``; refuse a run of the other architecture."""
    return check_saved(run_dir, cfg)


def train_thought(
    cfg: ThoughtTrainConfig, run_dir: Path, *, resume: bool = False, threads: int = 1
) -> dict[str, Any]:
    """Train (or resume) one run; returns the final metrics (also in ``metrics.json``)."""
    from mctd_thought import MaskedDiffusionLM, save_model, segment_loss

    from mctd_trainer.corpus.tokens import windows

    tok, train, val, tok_path = load_data(cfg)
    segs = val_segments(cfg, val)
    torch.manual_seed(cfg.seed)
    model = MaskedDiffusionLM(model_config(cfg, len(tok)))
    save_config(run_dir, asdict(cfg))
    span = cfg.n_seg * cfg.seg_len

    def loss_fn(m: nn.Module, step: int, device: torch.device) -> torch.Tensor:
        rng = np.random.default_rng([cfg.seed, step])
        ids = torch.as_tensor(windows(train, rng, cfg.batch_size, span), device=device).long()
        gen = torch.Generator(device=device).manual_seed(int(rng.integers(2**62)))
        loss, _ = segment_loss(m, ids.view(-1, cfg.n_seg, cfg.seg_len), generator=gen)  # type: ignore[arg-type]
        return loss

    def evaluate(m: nn.Module, step: int) -> dict[str, float]:
        return validation(m, segs, cfg.val_samples)

    meta = {"arch": cfg.arch, "kind": "thought"}
    res = fit(model, cfg, run_dir, loss_fn, evaluate, resume=resume, threads=threads, meta=meta)
    metrics: dict[str, Any] = {
        "arch": cfg.arch,
        "params": model.num_params(),
        "steps": res.end_step,
        "start_step": res.start_step,
        **{k.removeprefix("eval/"): v for k, v in validation(model, segs, cfg.val_samples).items()},
        "train_tokens": len(train),
        "val_tokens": len(val),
        "val_windows": len(segs),
    }
    export(save_model, model, run_dir, tok_path, metrics)
    return metrics


def load_thought(folder: Path, arch: str | None = None) -> tuple[Any, Any]:
    """(model, tokenizer) of a run's ``model/`` folder (or a run directory)."""
    from mctd_thought import load_model

    from mctd_trainer.corpus import load_tokenizer

    folder = Path(folder)
    if (folder / "model").is_dir():
        folder = folder / "model"
    if not (folder / "tokenizer.json").is_file():
        raise UserError(f"{folder} has no tokenizer.json: not a `mctd-train thought` model folder")
    return load_model(folder, arch=arch), load_tokenizer(folder)
