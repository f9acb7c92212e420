"""``mctd-train mor``: MoR / recursive / vanilla causal LMs on the story corpus.

Data: the verified story corpus (or ``--dataset`` via HF ``datasets``) split by a hash of each
story (validation ``val_frac``), tokenised with the corpus BPE into one stream per split. The batch
of step s is random windows drawn from ``default_rng([seed, s])``, so a resumed run equals an
uninterrupted one. Schedule: trapezoid (linear warm-up, constant, linear cool-down to 0). Each
checkpoint logs validation NLL (causal routing: the expert-choice threshold rule) and the training
FLOPs so far (3 x the forward FLOPs counted on every step's batch) to TensorBoard; the end
exports ``model/`` (`mctd_mor.save_model` + the tokenizer).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mctd_trainer import checkpoints
from mctd_trainer.corpus_lm import CorpusLMConfig, TrapezoidConfig, export, fit, load_data
from mctd_trainer.corpus_lm import check_resume as check_saved
from mctd_trainer.rundir import save_config

__all__ = ["MorTrainConfig", "TrapezoidConfig", "check_resume", "load_mor_lm", "train_mor"]


@dataclass
class MorTrainConfig(CorpusLMConfig):
    """Model and run settings of ``mctd-train mor`` (saved as the run's ``config.json``)."""

    arch: str = "mor-ec"
    n_recursion: int = 3
    sharing: str = "middle_cycle"
    kv_mode: str = "recursion"
    seq_len: int = 128


def model_config(cfg: MorTrainConfig, vocab_size: int) -> Any:
    """The `MoRConfig` of a run (vanilla: every layer unique, one recursion)."""
    from mctd_mor import MoRConfig

    return MoRConfig(
        arch=cfg.arch,
        vocab_size=vocab_size,
        d_model=cfg.d_model,
        n_heads=cfg.n_heads,
        d_ff=cfg.d_ff,
        n_layers=cfg.n_layers,
        n_recursion=1 if cfg.arch == "vanilla" else cfg.n_recursion,
        sharing="cycle" if cfg.arch == "vanilla" else cfg.sharing,
        kv_mode=cfg.kv_mode,
        max_seq_len=max(512, cfg.seq_len),
    )


@torch.no_grad()
def validation_nll(model: nn.Module, val: np.ndarray, batch: int = 16) -> float:
    """Mean next-token NLL over the validation windows (causal routing)."""
    was = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(val), batch):
        ids = torch.as_tensor(val[i : i + batch], dtype=torch.long)
        out = model(ids[:, :-1], routing="threshold")
        nll = torch.nn.functional.cross_entropy(
            out.logits.flatten(0, 1).float(), ids[:, 1:].flatten(), reduction="sum"
        )
        total, count = total + float(nll), count + ids[:, 1:].numel()
    model.train(was)
    return total / count


def counted_flops(run_dir: Path) -> int:
    """Training FLOPs counted up to the checkpoint a resume starts from (0: a fresh run)."""
    ck = checkpoints.load_latest(run_dir / "checkpoints")
    if ck is None:
        return 0
    if "train_flops" not in ck.meta:
        raise checkpoints.CheckpointError(
            f"{ck.path} records no training FLOPs (written by mctd-trainer < 0.7): continue it "
            "with the version that wrote it, or start a fresh run"
        )
    return int(ck.meta["train_flops"])


def check_resume(run_dir: Path, cfg: MorTrainConfig) -> MorTrainConfig:
    """The saved config of ``run_dir``; refuse a run of another architecture."""
    return check_saved(run_dir, cfg, ("n_recursion",))


def train_mor(
    cfg: MorTrainConfig, run_dir: Path, *, resume: bool = False, threads: int = 1
) -> dict[str, Any]:
    """Train (or resume) one run; returns the final metrics (also written to ``metrics.json``)."""
    from mctd_mor import FlopCounter, MoRForCausalLM, save_model

    from mctd_trainer.corpus.tokens import fixed_windows, windows

    tok, train, val, tok_path = load_data(cfg)
    val_ids = fixed_windows(val, cfg.seq_len + 1, cfg.val_windows)
    torch.manual_seed(cfg.seed)
    mcfg = model_config(cfg, len(tok))
    model = MoRForCausalLM(mcfg)
    save_config(run_dir, asdict(cfg))
    # training FLOPs: 3 x the forward FLOPs counted on each step's batch (token-choice depths
    # change as the router trains); the running sum rides in every checkpoint's metadata
    meta: dict[str, Any] = {
        "arch": cfg.arch,
        "train_flops": counted_flops(run_dir) if resume else 0,
    }

    def loss_fn(m: nn.Module, step: int, device: torch.device) -> torch.Tensor:
        rng = np.random.default_rng([cfg.seed, step])
        ids = torch.as_tensor(windows(train, rng, cfg.batch_size, cfg.seq_len + 1), device=device)
        f = FlopCounter()
        _, total, _ = m.lm_loss(ids.long(), flops=f)  # type: ignore[operator]
        meta["train_flops"] += 3 * f.total
        return total

    def evaluate(m: nn.Module, step: int) -> dict[str, float]:
        return {"eval/val_nll": validation_nll(m, val_ids), "eval/train_flops": meta["train_flops"]}

    res = fit(model, cfg, run_dir, loss_fn, evaluate, resume=resume, threads=threads, meta=meta)
    metrics = {
        "arch": cfg.arch,
        "n_recursion": mcfg.n_recursion,
        "unique_params": model.num_unique_params(),
        "steps": res.end_step,
        "start_step": res.start_step,
        "val_nll": validation_nll(model, val_ids),
        "train_flops": meta["train_flops"],
        "flops_per_step": meta["train_flops"] / max(res.end_step, 1),
        "train_tokens": len(train),
        "val_tokens": len(val),
    }
    export(save_model, model, run_dir, tok_path, metrics)
    return metrics


def load_mor_lm(folder: Path, **kwargs: Any) -> Any:
    """A `mctd_mor.MoRLM` for a run's ``model/`` folder (or a run directory): the ``mor`` backend's
    loader, `mctd_mor.backend.load_lm`."""
    from mctd_mor.backend import load_lm

    return load_lm(folder, **kwargs)
