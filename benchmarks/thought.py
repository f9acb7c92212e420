"""mctd-thought at CPU scale: thought vs baseline NLL bound, sampler speed/quality, dLM search.

Parts (``--parts train,decode,search``), all printed by one run:

train   ``mctd-train thought`` for ``--arch thought`` and ``baseline`` at ``--seeds`` seeds (same
        windows, masks and steps per seed; runs under ``--runs`` are reused when finished,
        resumed when not). Validation NLL bound (nats/token, MDLM ELBO, 4 stratified draws of
        (t, mask) per window, the same draws for both) on consecutive segments: over segments
        with a context (>= 1; the thought model reads the stack written from the earlier ones)
        and over all; paired t-test over seeds (thought - baseline); and the context gain: the
        gap on segments >= 1 minus the gap on segment 0 (t-test against 0), which separates
        what the thought adds from how well each architecture trained.
decode  The decode model (``RUNS/decode-baseline``, a baseline trained ``--decode-steps``
        steps, else the seed-0 baseline) generates ``--answer`` tokens (prompt + answer within
        the training segment length) after 16 prompts (EOS + the first 3 tokens of 16
        validation stories): low-confidence remasking (steps = answer length, the quality
        reference), Fast-dLLM threshold decoding at several tau, with and without the block KV
        cache, semi-AR blocks of ``--block``. Model calls (forwards) per token, positions
        computed per token, generative perplexity of the answers under the embedded
        SmolLM2-135M-Instruct (given the prompt's text), distinct-1/2 over the 16 answers.
search  DTS, DTS* and best-of-N over unmasking (`UnmaskProblem`, 24 answer tokens, 4 per
        step, T = 1) on the decode model with a keyword reward (fraction of 2 words used), at
        several NFE budgets (positions computed), over prompts x seeds: mean best reward and
        NFE spent.

Results: ``benchmarks/results/thought.json``. Run (niced, one thread):
``OMP_NUM_THREADS=1 nice -n 10 uv run python benchmarks/thought.py --runs RUNS``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
SIZE = dict(
    d_model=96,
    n_heads=4,
    d_ff=256,
    n_layers=3,
    slots=2,
    height=4,
    width=4,
    d_thought=32,
    seg_len=32,
    n_seg=4,
    batch_size=8,
    warmup=30,
    lr=3e-3,
    ckpt_every=100,
)
WORDS = [("cat", "ball"), ("tree", "bird"), ("sun", "happy")]


def part_train(runs: Path, seeds: int, steps: int) -> dict[str, Any]:
    from mctd_trainer.thought import ThoughtTrainConfig, train_thought
    from scipy import stats as sps

    out: dict[str, Any] = {"size": SIZE, "steps": steps, "runs": {}}
    for seed in range(seeds):
        for arch in ("thought", "baseline"):
            d = runs / f"{arch}-s{seed}"
            if (d / "metrics.json").is_file():
                m = json.loads((d / "metrics.json").read_text())
            else:
                cfg = ThoughtTrainConfig(arch=arch, seed=seed, steps=steps, **SIZE)  # type: ignore[arg-type]
                m = train_thought(cfg, d, resume=(d / "checkpoints").is_dir())
            out["runs"][f"{arch}-s{seed}"] = m
    for key in ("val_bound_ctx", "val_bound"):
        t = np.array([out["runs"][f"thought-s{s}"][key] for s in range(seeds)])
        b = np.array([out["runs"][f"baseline-s{s}"][key] for s in range(seeds)])
        test = sps.ttest_rel(t, b) if seeds > 1 else None
        out[key] = {
            "thought": t.tolist(),
            "baseline": b.tolist(),
            "mean_diff": float((t - b).mean()),
            "ppl_bound_thought": float(np.exp(t.mean())),
            "ppl_bound_baseline": float(np.exp(b.mean())),
            "t": None if test is None else float(test.statistic),
            "p": None if test is None else float(test.pvalue),
        }
    # does the thought help where it has something to read? (segments >= 1) - (segment 0)
    did = []
    for s in range(seeds):
        rt, rb = out["runs"][f"thought-s{s}"], out["runs"][f"baseline-s{s}"]
        gap = [rt[f"val_bound_seg{i}"] - rb[f"val_bound_seg{i}"] for i in range(SIZE["n_seg"])]
        did.append(float(np.mean(gap[1:]) - gap[0]))
    test = sps.ttest_1samp(did, 0.0) if seeds > 1 else None
    out["context_gain"] = {
        "per_seed": did,
        "mean": float(np.mean(did)),
        "t": None if test is None else float(test.statistic),
        "p": None if test is None else float(test.pvalue),
    }
    print(f"\n## train: {seeds} seeds x {steps} steps, " + json.dumps(SIZE))
    for s in range(seeds):
        rt, rb = out["runs"][f"thought-s{s}"], out["runs"][f"baseline-s{s}"]
        print(
            f"seed {s}: thought {rt['val_bound_ctx']:.4f} (all {rt['val_bound']:.4f}, "
            f"{rt['params']} params) | baseline {rb['val_bound_ctx']:.4f} "
            f"(all {rb['val_bound']:.4f}, {rb['params']} params)"
        )
    for key in ("val_bound_ctx", "val_bound"):
        r = out[key]
        print(
            f"{key}: thought - baseline = {r['mean_diff']:+.4f} nats/token "
            f"(PPL bound {r['ppl_bound_thought']:.1f} vs {r['ppl_bound_baseline']:.1f}), "
            f"paired t = {r['t']}, p = {r['p']}"
        )
    g = out["context_gain"]
    print(
        f"(thought - baseline) on segments with a context minus on segment 0: "
        f"{g['mean']:+.4f} nats/token (< 0: the thought helps), t = {g['t']}, p = {g['p']}"
    )
    return out


def _prompts(tok: Any, n: int, k: int) -> tuple[list[list[int]], list[str]]:
    from mctd_trainer.corpus import load_texts
    from mctd_trainer.corpus.tokens import split_texts

    _, val = split_texts(load_texts(), 0.1)
    while len(val) < n:
        val = val + val
    ids = [[tok.eos_token_id, *tok.encode(t)[:k]] for t in val[:n]]
    return ids, [tok.decode(p[1:]) for p in ids]


def _gen_ppl(judge: Any, prompts: list[str], answers: list[str]) -> float:
    """exp(mean NLL per SmolLM2 token of the answers given the prompt text)."""
    from mctd_eval.tasks.fluency import token_logprobs

    total, count = 0.0, 0
    for p, a in zip(prompts, answers, strict=True):
        pre = judge.encode(p)
        full = judge.encode(p + a)
        if len(full) <= len(pre):
            continue
        lp = token_logprobs(judge, pre, [full[len(pre) :]])[0]
        total, count = total - float(lp.sum()), count + len(lp)
    return math.exp(total / max(count, 1))


def decode_model(runs: Path, steps: int) -> tuple[Any, Any, str]:
    """(model, tokenizer, run name) of the decode model, trained here if missing."""
    from mctd_trainer.thought import ThoughtTrainConfig, load_thought, train_thought

    d = runs / "decode-baseline"
    if steps and not (d / "metrics.json").is_file():
        cfg = ThoughtTrainConfig(arch="baseline", seed=0, steps=steps, **SIZE)  # type: ignore[arg-type]
        train_thought(cfg, d, resume=(d / "checkpoints").is_dir())
    d = d if (d / "metrics.json").is_file() else runs / "baseline-s0"
    model, tok = load_thought(d)
    return model, tok, d.name


def part_decode(
    runs: Path, answer: int, block: int, temperature: float, steps: int
) -> dict[str, Any]:
    from mctd_eval.diversity import distinct_n
    from mctd_llm_torch import TorchLM
    from mctd_thought import DecodeConfig, generate

    model, tok, name = decode_model(runs, steps)
    prompts, ptexts = _prompts(tok, 16, 3)
    length = len(prompts[0]) + answer
    judge = TorchLM("default", progress=False)
    configs = {"low_confidence": DecodeConfig(length, "low_confidence", block=block, steps=answer)}
    for tau in (0.9, 0.7, 0.5, 0.3):
        configs[f"threshold_{tau}"] = DecodeConfig(length, "threshold", block=block, tau=tau)
        configs[f"threshold_{tau}_cache"] = DecodeConfig(
            length, "threshold", block=block, tau=tau, cache=True
        )
    out: dict[str, Any] = {
        "model": name,
        "answer": answer,
        "block": block,
        "temperature": temperature,
    }
    for key, cfg in configs.items():
        cfg.temperature = temperature
        g = generate(model, prompts, cfg, seed=0)
        eos = tok.eos_token_id
        answers = [a[: a.index(eos)] if eos in a else a for a in g.answers]
        texts = [tok.decode(a) for a in answers]
        out[key] = {
            "calls_per_token": g.stats.calls_per_token,
            "tokens_per_forward": g.stats.tokens_per_forward,
            "positions_per_token": g.stats.nfe / g.stats.tokens,
            "batched_calls": g.stats.calls,
            "tokens_per_s": g.stats.tokens / g.stats.seconds,
            "gen_ppl": _gen_ppl(judge, ptexts, texts),
            "distinct_1": distinct_n(g.answers, 1),
            "distinct_2": distinct_n(g.answers, 2),
            "sample": ptexts[0] + "|" + texts[0][:160],
        }
    ref = out["low_confidence"]
    print(
        f"\n## decode ({name}): 16 prompts, answer {answer}, block {block}, "
        f"temperature {temperature}"
    )
    print(
        "| sampler | calls/token | fewer calls | positions/token | gen PPL | vs ref | "
        "distinct-1 | distinct-2 | tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for key in configs:
        r = out[key]
        print(
            f"| {key} | {r['calls_per_token']:.3f} | "
            f"{ref['calls_per_token'] / r['calls_per_token']:.2f}x | "
            f"{r['positions_per_token']:.1f} | {r['gen_ppl']:.1f} | "
            f"{r['gen_ppl'] / ref['gen_ppl'] - 1:+.1%} | {r['distinct_1']:.3f} | "
            f"{r['distinct_2']:.3f} | {r['tokens_per_s']:.0f} |"
        )
    for key in configs:
        print(f"  {key}: {out[key]['sample']!r}")
    return out


def part_search(runs: Path, budgets: list[int], seeds: int, steps: int) -> dict[str, Any]:
    from mctd_thought import KeywordReward, UnmaskProblem
    from mctd_tree import Budget, best_of_n, dts, dts_star

    model, tok, run_name = decode_model(runs, steps)
    methods = {
        "best_of_n": lambda p, b, s: best_of_n(p, b, batch_size=4, rng=s),
        "dts": lambda p, b, s: dts(p, b, lam=10.0, rng=s),
        "dts_star": lambda p, b, s: dts_star(p, b, lam=10.0, backup="max", rng=s),
    }
    rows = []
    for words in WORDS:
        prompt = [tok.eos_token_id, *tok.encode("Once upon a time")]
        for budget in budgets:
            for name, fn in methods.items():
                for seed in range(seeds):
                    prob = UnmaskProblem(
                        model,
                        prompt,
                        KeywordReward(words),
                        tok.decode,
                        answer_len=24,
                        per_step=4,
                        temperature=1.0,
                        eos_id=tok.eos_token_id,
                    )
                    res = fn(prob, Budget(nfe=budget), seed)
                    rows.append(
                        {
                            "words": "+".join(words),
                            "budget": budget,
                            "method": name,
                            "seed": seed,
                            "reward": res.best_reward,
                            "nfe": res.stats.nfe,
                            "calls": res.stats.calls,
                            "answer": prob.text(res.best_state)[:120],
                        }
                    )
    print(
        f"\n## search ({run_name}): {len(WORDS)} keyword pairs x {seeds} seeds, answer 24, "
        "4 tokens/step"
    )
    print("| budget (positions) | method | mean best reward | mean NFE | mean calls |")
    print("|---|---|---|---|---|")
    summary = []
    for budget in budgets:
        for name in methods:
            sel = [r for r in rows if r["budget"] == budget and r["method"] == name]
            s = {
                "budget": budget,
                "method": name,
                "reward": float(np.mean([r["reward"] for r in sel])),
                "nfe": float(np.mean([r["nfe"] for r in sel])),
                "calls": float(np.mean([r["calls"] for r in sel])),
            }
            summary.append(s)
            print(f"| {budget} | {name} | {s['reward']:.3f} | {s['nfe']:.0f} | {s['calls']:.0f} |")
    return {"rows": rows, "summary": summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="train,decode,search")
    ap.add_argument("--runs", type=Path, default=RESULTS / "thought_runs")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=400)
    ap.add_argument("--answer", type=int, default=28)
    ap.add_argument("--block", type=int, default=14)
    ap.add_argument("--decode-steps", type=int, default=1500)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--budgets", default="1200,2400,4800")
    ap.add_argument("--search-seeds", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    parts = args.parts.split(",")
    t0 = time.time()
    out: dict[str, Any] = {}
    if "train" in parts:
        out["train"] = part_train(args.runs, args.seeds, args.steps)
    if "decode" in parts:
        out["decode"] = part_decode(
            args.runs, args.answer, args.block, args.temperature, args.decode_steps
        )
    if "search" in parts:
        budgets = [int(b) for b in args.budgets.split(",")]
        out["search"] = part_search(args.runs, budgets, args.search_seeds, args.decode_steps)
    out["minutes"] = (time.time() - t0) / 60
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "thought.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{out['minutes']:.1f} min; wrote {path}")


if __name__ == "__main__":
    main()
