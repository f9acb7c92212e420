"""mctd-thought at CPU scale: thought vs baseline NLL bound, sampler speed/quality, dLM search.

Parts (``--parts curve,train,decode,search``), all printed by one run:

curve   validation NLL bound vs step and wall-clock minutes of every run under ``--runs`` (from
        the runs' TensorBoard events; the minutes are this shared machine's).
train   ``mctd-train thought`` for ``--arch thought`` and ``baseline`` at ``--seeds`` seeds (same
        windows, masks and steps per seed; runs under ``--runs`` are reused when finished,
        resumed when not). Validation NLL bound (nats/token, MDLM ELBO, 4 stratified draws of
        (t, mask) per window, the same draws for both) on consecutive segments: over segments
        with a context (>= 1; the thought model reads the stack written from the earlier ones)
        and over all; paired t-test over seeds (thought - baseline); and the context gain: the
        gap on segments >= 1 minus the gap on segment 0 (t-test against 0), which separates
        what the thought adds from how well each architecture trained. Per seed, a paired test
        over the validation windows (16 draws each) of the gap and of the context gain.
decode  The decode model (``--decode-run``, else ``RUNS/decode-baseline``, a baseline trained
        ``--decode-steps`` steps, else the seed-0 baseline) generates ``--answer`` tokens after
        16 prompts (EOS + the first 3 tokens of validation stories) x ``--decode-seeds`` sampling
        seeds, for every block of ``--blocks``, temperature of ``--temperatures``:
        low-confidence remasking at 1 (steps = answer length, the reference), 2 and 7 tokens a
        step, and Fast-dLLM threshold decoding at every tau of ``--taus``. Per row: model calls
        per token (and per token before EOS), generative perplexity under the embedded
        SmolLM2-135M-Instruct (given the prompt's text) with a 95 % paired-bootstrap CI of its
        ratio to the same-block reference and its per-seed spread, distinct-1/2, and the share
        of the answers' 4-grams found in the training stream. ``--replot JSON`` re-prints it.
search  DTS, DTS* and best-of-N over unmasking (`UnmaskProblem`, 24 answer tokens, 4 per
        step, T = 1) on the decode model with a keyword reward (fraction of 2 words used), at
        several NFE budgets (positions computed), over prompts x seeds: mean best reward and
        NFE spent.

Results: ``benchmarks/results/thought.json``. Run (niced, one thread):
``OMP_NUM_THREADS=1 nice -n 15 uv run python benchmarks/thought.py --runs RUNS``; the commands
behind the README's numbers are in ``packages/mctd-thought/README.md``.
"""

from __future__ import annotations

import argparse
import json
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


def part_train(runs: Path, seeds: int, steps: int, shards: int = 0) -> dict[str, Any]:
    from mctd_trainer.thought import ThoughtTrainConfig, train_thought
    from scipy import stats as sps

    out: dict[str, Any] = {"size": SIZE, "steps": steps, "runs": {}}
    for seed in range(seeds):
        for arch in ("thought", "baseline"):
            d = runs / f"{arch}-s{seed}"
            if (d / "metrics.json").is_file():
                m = json.loads((d / "metrics.json").read_text())
            else:
                cfg = ThoughtTrainConfig(
                    arch=arch, seed=seed, steps=steps, corpus_shards=shards, **SIZE
                )  # type: ignore[arg-type]
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
    out["per_window"] = [per_window_test(runs, s) for s in range(seeds)]
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
    for s, w in enumerate(out["per_window"]):
        print(
            f"seed {s}, paired over {w['windows']} validation windows ({w['samples']} draws "
            f"each): thought - baseline on segments >= 1 {w['ctx_diff']:+.4f} "
            f"[{w['ctx_ci'][0]:+.4f}, {w['ctx_ci'][1]:+.4f}] p = {w['ctx_p']:.3g}; "
            f"context gain {w['gain']:+.4f} [{w['gain_ci'][0]:+.4f}, {w['gain_ci'][1]:+.4f}] "
            f"p = {w['gain_p']:.3g}"
        )
    return out


def per_window_test(runs: Path, seed: int, samples: int = 16) -> dict[str, Any]:
    """Paired test of one seed's thought and baseline over the validation windows: the NLL bound
    per window (``samples`` stratified draws, the same for both) on segments >= 1, and the
    context gain per window (gap on segments >= 1 minus gap on segment 0); t-tests, 95 % CIs."""
    from mctd_thought import nll_bound_rows
    from mctd_trainer.rundir import load_config
    from mctd_trainer.thought import ThoughtTrainConfig, load_data, load_thought, val_segments
    from scipy import stats as sps

    cfg = ThoughtTrainConfig.from_dict(load_config(runs / f"thought-s{seed}"))
    segs = val_segments(cfg, load_data(cfg)[2])
    rows = {}
    for arch in ("thought", "baseline"):
        model, _ = load_thought(runs / f"{arch}-s{seed}")
        rows[arch] = nll_bound_rows(model, segs, samples=samples, seed=0).double().numpy()
    gap = rows["thought"] - rows["baseline"]  # (n_seg, windows)
    ctx, gain = gap[1:].mean(0), gap[1:].mean(0) - gap[0]

    def test(d: np.ndarray) -> tuple[float, list[float], float]:
        half = sps.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        return (
            float(d.mean()),
            [float(d.mean() - half), float(d.mean() + half)],
            float(sps.ttest_1samp(d, 0.0).pvalue),
        )

    (cd, cci, cp), (gd, gci, gp) = test(ctx), test(gain)
    return {
        "windows": int(gap.shape[1]),
        "samples": samples,
        "thought_ctx": float(rows["thought"][1:].mean()),
        "baseline_ctx": float(rows["baseline"][1:].mean()),
        "ctx_diff": cd,
        "ctx_ci": cci,
        "ctx_p": cp,
        "gain": gd,
        "gain_ci": gci,
        "gain_p": gp,
    }


def part_curve(runs: Path) -> dict[str, Any]:
    """Validation NLL bound against step and wall-clock minutes of every run under ``runs``
    (read from its TensorBoard events: ``eval/val_bound`` at each checkpoint)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[str, Any] = {}
    print(f"\n## curve: validation NLL bound (nats/token) vs step and minutes, runs in {runs}")
    for d in sorted(p for p in runs.iterdir() if (p / "tb").is_dir()):
        points: list[tuple[int, float, float]] = []
        starts = []  # the first logged event of any kind: ~ the start of training
        for f in sorted((d / "tb").glob("events.*")):
            acc = EventAccumulator(str(f))
            acc.Reload()
            starts += [acc.Scalars(tag)[0].wall_time for tag in acc.Tags()["scalars"]]
            if "eval/val_bound" in acc.Tags()["scalars"]:
                points += [(e.step, e.value, e.wall_time) for e in acc.Scalars("eval/val_bound")]
        if not points:
            continue
        points.sort()
        t0, curve = min(starts), []
        for step, v, wall in points:
            curve.append({"step": step, "val_bound": v, "minutes": (wall - t0) / 60})
        out[d.name] = curve
        print(
            f"{d.name}: "
            + ", ".join(
                f"{c['step']}: {c['val_bound']:.3f} ({c['minutes']:.1f} min)" for c in curve
            )
        )
    return out


def _prompts(tok: Any, n: int, k: int, shards: int = 0) -> tuple[list[list[int]], list[str]]:
    from mctd_trainer.corpus import load_texts
    from mctd_trainer.corpus.tokens import split_texts

    _, val = split_texts(load_texts(shards=shards or None), 0.1)
    while len(val) < n:
        val = val + val
    ids = [[tok.eos_token_id, *tok.encode(t)[:k]] for t in val[:n]]
    return ids, [tok.decode(p[1:]) for p in ids]


@torch.no_grad()
def judge_nll(judge: Any, pairs: list[tuple[str, str]], batch: int = 32) -> list[tuple[float, int]]:
    """(NLL sum, tokens) of each answer under the judge given its prompt text: the judge's
    tokens of prompt + answer after those of the prompt, scored by full-sequence forwards of
    the judge's Hugging Face model (right-padded batches); duplicates are scored once."""
    uniq = sorted(set(pairs))
    seqs = []
    for p, a in uniq:
        pre, full = judge.encode(p), judge.encode(p + a)
        seqs.append((full, max(len(pre), 1)))
    scores: dict[tuple[str, str], tuple[float, int]] = {}
    for i in range(0, len(seqs), batch):
        chunk = seqs[i : i + batch]
        width = max(len(f) for f, _ in chunk)
        ids = torch.zeros(len(chunk), width, dtype=torch.long)
        att = torch.zeros(len(chunk), width, dtype=torch.long)
        for r, (f, _) in enumerate(chunk):
            ids[r, : len(f)] = torch.tensor(f)
            att[r, : len(f)] = 1
        logp = torch.log_softmax(judge.model(input_ids=ids, attention_mask=att).logits.float(), -1)
        tok_lp = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
        for r, (f, start) in enumerate(chunk):
            span = tok_lp[r, start - 1 : len(f) - 1]
            scores[uniq[i + r]] = (-float(span.double().sum()), len(span))
    return [scores[pa] for pa in pairs]


def _ppl(nll: np.ndarray, count: np.ndarray) -> float:
    return float(np.exp(nll.sum() / max(count.sum(), 1)))


def decode_model(
    runs: Path, steps: int, run: Path | None = None, shards: int = 0
) -> tuple[Any, Any, str]:
    """(model, tokenizer, run name) of the decode model: ``run`` if given, else
    ``RUNS/decode-baseline`` (trained here ``steps`` steps if missing), else the seed-0 baseline."""
    from mctd_trainer.thought import ThoughtTrainConfig, load_thought, train_thought

    if run is not None:
        model, tok = load_thought(run)
        return model, tok, str(run)
    d = runs / "decode-baseline"
    if steps and not (d / "metrics.json").is_file():
        cfg = ThoughtTrainConfig(arch="baseline", seed=0, steps=steps, corpus_shards=shards, **SIZE)  # type: ignore[arg-type]
        train_thought(cfg, d, resume=(d / "checkpoints").is_dir())
    d = d if (d / "metrics.json").is_file() else runs / "baseline-s0"
    model, tok = load_thought(d)
    return model, tok, d.name


def train_ngrams(n: int, shards: int = 0) -> set[tuple[int, ...]]:
    """Every n-gram of the training token stream (the default split of the corpus's first
    ``shards`` shards, 0: all)."""
    from mctd_trainer.thought import ThoughtTrainConfig, load_data

    train = [int(t) for t in load_data(ThoughtTrainConfig(corpus_shards=shards))[1]]
    return {tuple(train[i : i + n]) for i in range(len(train) - n + 1)}


def copied(answers: list[list[int]], seen: set[tuple[int, ...]], n: int) -> float:
    """Fraction of the answers' n-grams that occur in the training stream (memorisation)."""
    grams = [tuple(a[i : i + n]) for a in answers for i in range(len(a) - n + 1)]
    return sum(g in seen for g in grams) / max(len(grams), 1)


def decode_configs(
    length: int, answer: int, blocks: list[int], taus: list[float]
) -> dict[str, tuple[int, Any]]:
    """name -> (block, DecodeConfig): per block, low-confidence at 1 (the reference), 2 and 7
    tokens a step, and threshold decoding at every tau."""
    from mctd_thought import DecodeConfig

    out: dict[str, tuple[int, Any]] = {}
    for b in blocks:
        for k in (1, 2, 7):
            if b % k == 0:
                out[f"b{b} low_conf {k}/step"] = (
                    b,
                    DecodeConfig(length, "low_confidence", block=b, steps=answer // k),
                )
        for tau in taus:
            out[f"b{b} threshold {tau}"] = (b, DecodeConfig(length, "threshold", block=b, tau=tau))
    return out


def part_decode(
    runs: Path,
    answer: int,
    blocks: list[int],
    taus: list[float],
    temperatures: list[float],
    seeds: int,
    steps: int,
    run: Path | None = None,
    shards: int = 0,
) -> dict[str, Any]:
    """Calls/token vs generative perplexity (paired bootstrap CI of the ratio to low-confidence
    remasking at steps = length, same model, prompts and seeds) over blocks x tau x temperature."""
    from mctd_eval.diversity import distinct_n
    from mctd_llm_torch import TorchLM
    from mctd_thought import generate

    model, tok, name = decode_model(runs, steps, run, shards)
    prompts, ptexts = _prompts(tok, 16, 3, shards)
    seen = train_ngrams(4, shards)
    length = len(prompts[0]) + answer
    judge = TorchLM("default", progress=False)
    configs = decode_configs(length, answer, blocks, taus)
    eos = tok.eos_token_id
    rng = np.random.default_rng(0)
    n = len(prompts) * seeds
    boot = rng.integers(0, n, (1000, n))  # the same resamples for every row: paired
    out: dict[str, Any] = {"model": name, "answer": answer, "prompts": len(prompts), "seeds": seeds}
    for temp in temperatures:
        rows: dict[str, Any] = {}
        for key, (block, cfg) in configs.items():
            cfg.temperature = temp
            per_seed, row_fw, toks = [], 0, 0
            for s in range(seeds):
                g = generate(model, prompts, cfg, seed=s)
                row_fw, toks = row_fw + g.stats.row_forwards, toks + g.stats.tokens
                per_seed.append([a[: a.index(eos)] if eos in a else a for a in g.answers])
            answers = [a for cut in per_seed for a in cut]  # seed-major
            content = sum(len(a) for a in answers)
            scored = judge_nll(
                judge,
                [(p, tok.decode(a)) for cut in per_seed for p, a in zip(ptexts, cut, strict=True)],
            )  # seed-major, like answers
            nll, cnt = [v for v, _ in scored], [c for _, c in scored]
            rows[key] = {
                "block": block,
                "calls_per_token": row_fw / toks,
                "calls_per_content_token": row_fw / max(content, 1),
                "nll": nll,
                "count": cnt,
                "gen_ppl": _ppl(np.array(nll), np.array(cnt)),
                "distinct_1": distinct_n(answers, 1),
                "distinct_2": distinct_n(answers, 2),
                "copied_4": copied(answers, seen, 4),
                "sample": ptexts[0] + "|" + tok.decode(answers[0])[:120],
            }
        _decode_table(rows, boot, temp, seeds, len(prompts))
        out[f"T{temp}"] = rows
    return out


def _decode_table(
    rows: dict[str, Any], boot: np.ndarray, temp: float, seeds: int, n_p: int
) -> None:
    """Print calls/token vs gen PPL, each row against low-confidence remasking at steps = length
    with the same block (same model, prompts and seeds): 95 % paired-bootstrap CI of the gen-PPL
    ratio (the same resamples of (prompt, seed) for both), per-seed spread of gen PPL, and
    whether the row meets the target (>= 3x fewer calls, gen PPL within 10 %)."""
    print(f"\n## decode, temperature {temp}: {n_p} prompts x {seeds} seeds")
    print(
        "| sampler | calls/token | fewer calls | calls/content token | gen PPL | vs same-block "
        "low-conf [95 % CI] | per-seed gen PPL | distinct-1 | distinct-2 | copied 4-grams |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for key, r in rows.items():
        ref = rows[key.split(" ")[0] + " low_conf 1/step"]
        rn, rc = np.array(ref["nll"]), np.array(ref["count"])
        nll, cnt = np.array(r["nll"]), np.array(r["count"])
        ratio = np.exp(nll[boot].sum(1) / cnt[boot].sum(1) - rn[boot].sum(1) / rc[boot].sum(1))
        lo, hi = np.percentile(ratio, [2.5, 97.5])
        per_seed = [
            _ppl(nll[s * n_p : (s + 1) * n_p], cnt[s * n_p : (s + 1) * n_p]) for s in range(seeds)
        ]
        r["fewer_calls"] = ref["calls_per_token"] / r["calls_per_token"]
        r["vs_ref"] = r["gen_ppl"] / ref["gen_ppl"] - 1
        r["vs_ref_ci"] = [float(lo - 1), float(hi - 1)]
        r["per_seed_gen_ppl"] = per_seed
        r["target"] = bool(r["fewer_calls"] >= 3 and r["vs_ref"] <= 0.10)
        print(
            f"| {key} | {r['calls_per_token']:.3f} | {r['fewer_calls']:.2f}x | "
            f"{r['calls_per_content_token']:.3f} | {r['gen_ppl']:.1f} | "
            f"{r['vs_ref']:+.1%} [{lo - 1:+.0%}, {hi - 1:+.0%}] | "
            f"{min(per_seed):.1f}-{max(per_seed):.1f} | {r['distinct_1']:.3f} | "
            f"{r['distinct_2']:.3f} | {r['copied_4']:.0%} |"
        )
    met = [k for k, r in rows.items() if r["target"]]
    print(f"target (>= 3x fewer calls, gen PPL within +10 %) met by: {met or 'none'}")
    for key, r in rows.items():
        print(f"  {key}: {r['sample']!r}")


def replot(path: Path) -> None:
    """Re-print the decode tables of a saved ``thought.json`` (no model runs)."""
    dec = json.loads(path.read_text())["decode"]
    n_p, seeds = dec["prompts"], dec["seeds"]
    boot = np.random.default_rng(0).integers(0, n_p * seeds, (1000, n_p * seeds))
    print(f"decode model: {dec['model']}, answer {dec['answer']} tokens")
    for key, rows in dec.items():
        if key.startswith("T"):
            _decode_table(rows, boot, float(key[1:]), seeds, n_p)


def part_search(
    runs: Path,
    budgets: list[int],
    seeds: int,
    steps: int,
    run: Path | None = None,
    shards: int = 0,
) -> dict[str, Any]:
    from mctd_thought import KeywordReward, UnmaskProblem
    from mctd_tree import Budget, best_of_n, dts, dts_star

    model, tok, run_name = decode_model(runs, steps, run, shards)
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
    ap.add_argument("--blocks", default="7,14,28", help="semi-AR block sizes (decode)")
    ap.add_argument("--taus", default="0.9,0.7,0.5,0.3,0.2,0.1")
    ap.add_argument("--temperatures", default="1.0", help="decode temperatures, e.g. 0,1")
    ap.add_argument("--decode-seeds", type=int, default=4, help="sampling seeds x 16 prompts")
    ap.add_argument("--decode-run", type=Path, default=None, help="decode model (a run dir)")
    ap.add_argument("--decode-steps", type=int, default=1500)
    ap.add_argument("--budgets", default="1200,2400,4800")
    ap.add_argument("--search-seeds", type=int, default=2)
    ap.add_argument(
        "--corpus-shards",
        type=int,
        default=0,
        help="train and prompt on the first K shards (0: all)",
    )
    ap.add_argument("--replot", type=Path, default=None, help="re-print a saved JSON's decode")
    args = ap.parse_args()
    if args.replot is not None:
        replot(args.replot)
        return
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    parts = args.parts.split(",")
    t0 = time.time()
    out: dict[str, Any] = {}
    if "curve" in parts:
        out["curve"] = part_curve(args.runs)
    if "train" in parts:
        out["train"] = part_train(args.runs, args.seeds, args.steps, args.corpus_shards)
    if "decode" in parts:
        out["decode"] = part_decode(
            args.runs,
            args.answer,
            [int(b) for b in args.blocks.split(",")],
            [float(t) for t in args.taus.split(",")],
            [float(t) for t in args.temperatures.split(",")],
            args.decode_seeds,
            args.decode_steps,
            args.decode_run,
            args.corpus_shards,
        )
    if "search" in parts:
        budgets = [int(b) for b in args.budgets.split(",")]
        out["search"] = part_search(
            args.runs,
            budgets,
            args.search_seeds,
            args.decode_steps,
            args.decode_run,
            args.corpus_shards,
        )
    out["minutes"] = (time.time() - t0) / 60
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "thought.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"\n{out['minutes']:.1f} min; wrote {path}")


if __name__ == "__main__":
    main()
