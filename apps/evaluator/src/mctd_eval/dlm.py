"""The ``thought`` backend: a masked-diffusion LM of `mctd_thought` (a ``mctd-train thought`` run)
in the evaluator's language-model tasks, searched over unmasking.

`mctd_thought.lm.ThoughtLM` gives tasks the `LanguageModel` surface they use (encode/decode, a
plain prompt: EOS + the messages' text, the story model knows no chat template; EOS;
``next_logprobs`` for fluency rewards and perplexity) and the runner a ``search_problem``: an
`mctd_thought.UnmaskProblem` (a node is a partly unmasked answer, an edge one low-confidence
unmasking step of ``per_step`` tokens) sharing the model's counters, so the harness compares the
dLM's search with the AR LM's at matched NFE (positions computed, every forward counted).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from mctd_thought.lm import ThoughtLM
from mctd_tree.errors import UserError


def load_thought_lm(model: str, *, per_step: int = 4) -> ThoughtLM:
    """`ThoughtLM` of a ``mctd-train thought`` run directory or its ``model/`` folder; the run's
    segment length (its ``config.json``) is the ``next_logprobs`` window."""
    from mctd_trainer.thought import load_thought

    if model in ("default", ""):
        raise UserError("the thought backend needs --model RUN_DIR (a `mctd-train thought` run)")
    folder = Path(model)
    if not folder.exists():
        raise UserError(f"--model {model} does not exist (expected a `mctd-train thought` run)")
    net, tok = load_thought(folder)
    window = 64
    for cfg in (folder / "config.json", folder.parent / "config.json"):
        if cfg.is_file():
            window = int(json.loads(cfg.read_text()).get("seg_len", window))
            break
    return ThoughtLM(net, tok, per_step=per_step, window=window)


def load(
    model: str, *, threads: int | None = None, device: str | None = None, progress: bool = True
) -> ThoughtLM:
    """The ``thought`` backend's loader (entry point ``mctd.lm_backends``): a CPU `ThoughtLM`."""
    del progress
    if device not in (None, "cpu"):
        raise UserError(f"the thought backend runs on the CPU here; got device {device!r}")
    if threads:
        torch.set_num_threads(int(threads))
    return load_thought_lm(model)
