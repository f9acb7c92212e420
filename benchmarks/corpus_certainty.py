"""How sure the story corpus's own generator was of each token: a ceiling for parallel decoding.

Fast-dLLM's threshold decoding commits several tokens in one model call only where the model is
sure of them (confidence > tau). No model of the corpus can be surer, on average, than the
process that wrote it, so this scores the validation stories under that process: the embedded
SmolLM2-135M-Instruct given each story's own prompt (rebuilt from its stored words and features)
with the generator's temperature and top-p. Per story token (SmolLM2 tokens): the probability the
generator gave the token it wrote, the entropy of its sampling distribution, and the plain
(temperature 1) NLL. A left-to-right oracle decoder needs at least one call for every token it was
not sure of, so ``1 / P(p <= tau)`` estimates the most calls threshold decoding at ``tau`` could
save on this text (an estimate: a bidirectional model also sees right context, and committed
tokens change what is sure).

Run:  OMP_NUM_THREADS=1 uv run --package mctd-trainer python benchmarks/corpus_certainty.py \
        [--stories 64] [--taus 0.9 0.7 0.5 0.3]
Rows go to ``benchmarks/results/corpus_certainty.json``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from mctd_llm_torch import TorchLM
from mctd_trainer.corpus.generate import GenConfig, load_manifest, story_prompt
from mctd_trainer.corpus.load import find_corpus, load_stories
from mctd_trainer.corpus.tokenizer import load_tokenizer
from mctd_trainer.corpus.tokens import split_texts
from mctd_tree.files import write_json
from mctd_tree.lm.sampling import process_logprobs

RESULTS = Path(__file__).resolve().parent / "results"


def validation_rows(n: int, val_frac: float = 0.1) -> list[dict]:
    """The first ``n`` validation stories (the trainer's hash split) of the shipped corpus."""
    rows = load_stories()
    _, val = split_texts([r["text"] for r in rows], val_frac)
    keep = set(val)
    return [r for r in rows if r["text"] in keep][:n]


@torch.no_grad()
def story_scores(lm: TorchLM, row: dict, cfg: GenConfig) -> dict[str, np.ndarray]:
    """Per story token: probability under the generator's sampling rule, its entropy, raw NLL."""
    text = story_prompt(cfg.seed, row["id"])["prompt"]
    prompt = lm.chat_prompt([{"role": "user", "content": text}])
    story = lm.encode(row["text"])
    ids = torch.tensor([prompt + story])
    logp = torch.log_softmax(lm.model(input_ids=ids).logits[0].float(), -1).numpy()
    lp = logp[len(prompt) - 1 : -1]  # the distributions the story's tokens were drawn from
    tok = np.asarray(story)
    p = process_logprobs(lp, cfg.temperature, 0, cfg.top_p)
    with np.errstate(divide="ignore", invalid="ignore"):
        ent = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    return {"p": p[np.arange(len(tok)), tok], "entropy": ent, "nll": -lp[np.arange(len(tok)), tok]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stories", type=int, default=64, help="validation stories scored")
    ap.add_argument("--taus", type=float, nargs="+", default=[0.9, 0.7, 0.5, 0.3])
    args = ap.parse_args()
    torch.set_num_threads(1)
    manifest = load_manifest(find_corpus(None, 0))
    assert manifest is not None
    cfg = GenConfig(**manifest["generator"]["config"])
    lm = TorchLM("default", progress=False)
    rows = validation_rows(args.stories)
    scores = [story_scores(lm, r, cfg) for r in rows]
    bpe = load_tokenizer()
    ratio = sum(len(bpe.encode(r["text"])) for r in rows) / sum(s["p"].size for s in scores)
    p, ent, nll = (np.concatenate([s[k] for s in scores]) for k in ("p", "entropy", "nll"))
    out = {
        "stories": len(scores),
        "tokens": int(p.size),
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
        "entropy": float(ent.mean()),
        "nll_raw": float(nll.mean()),
        "outside_nucleus": float((p == 0).mean()),
        "bpe_tokens_per_smollm2_token": ratio,
        "taus": {},
    }
    print(
        f"{len(scores)} validation stories, {p.size} SmolLM2 tokens; generator T = "
        f"{cfg.temperature}, top-p = {cfg.top_p}"
        f"\n  entropy of the sampling rule: {out['entropy']:.3f} nats/token"
        f"\n  NLL at T = 1: {out['nll_raw']:.3f} nats/token"
        f"\n  tokens outside the nucleus (re-tokenised text): {out['outside_nucleus']:.1%}"
        f"\n  corpus BPE tokens per SmolLM2 token: {ratio:.3f}"
    )
    for tau in args.taus:
        sure = float((p > tau).mean())
        most = 1 / max(1 - sure, 1e-9)
        out["taus"][str(tau)] = {"sure": sure, "max_fewer_calls": most, "bpe": most * ratio}
        print(
            f"  tau {tau}: {sure:.1%} of tokens drawn at p > tau -> ~{most:.2f}x fewer calls at "
            f"most ({most * ratio:.2f}x in corpus-BPE tokens if every extra one were sure)"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "corpus_certainty.json", out)


if __name__ == "__main__":
    main()
