"""Mixture-of-Recursions at CPU scale: decode speed and KV memory, NLL vs training FLOPs, depths.

Parts (``--parts decode,train,search``), all measured in one run on the same machine:

decode  Decode tokens/s and KV memory at batch ``--batch`` (prompt 32, ``--new`` tokens) for
        vanilla (4 unique layers), the fixed-depth recursive model (Middle-Cycle, 4 unique layers,
        N_r = 3) and MoR-EC with recursion-wise caching (synchronous steps, and depth-wise
        batching: `mctd_mor.depthwise`) and with recursive KV sharing (same unique parameters).
        Weights are random and each token's depth is drawn from the paper's capacity schedule
        (P(depth >= r) = (N_r - r + 1)/N_r), i.e. what a trained router is trained to produce;
        the time includes cache updates. "blocks": calls of the shared block. Also one layer's
        matmul time by token rows (why skipped rows save little at small sizes). Targets: MoR
        >= 1.3x the recursive model's tokens/s with >= 30 % less KV memory. ``--width``: the
        decode models' d_model (d_ff and heads scaled alike).
train   ``mctd-train mor`` for vanilla, recursive, MoR-EC and MoR-TC (equal unique parameters,
        ``--steps``) on the story corpus; validation NLL against training FLOPs at every
        checkpoint, the FLOPs each needs to reach vanilla's final NLL (per seed of ``--seeds``,
        then mean and range; ``benchmarks/results/mor_nll_flops.png``), and which tokens the
        trained MoR-EC sends deepest (``benchmarks/results/mor_depths.png``). ``--corpus-shards
        K`` trains on the corpus's first K shards.
search  MaxEnt-TS on the trained MoR-EC with full-depth rollouts and with depth-1 rollouts
        (`SplitComputeLM`), the cheaper one given one simulation more at a time until its FLOPs
        come closest to the full search's; best reward and FLOPs side by side over
        ``--search-seeds`` seeds. Reward (a toy): the share of words starting with "s".

Results: ``benchmarks/results/mor_lm.json``. Run (niced, one thread):
``OMP_NUM_THREADS=1 nice -n 15 uv run python benchmarks/mor_lm.py --parts decode,train,search``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results"
SIZES = dict(d_model=128, n_heads=4, d_ff=344, n_layers=4)


def decode_sizes(width: int) -> dict[str, int]:
    """`SIZES` at d_model ``width`` (d_ff and heads scaled alike) for the decode part."""
    return dict(SIZES, d_model=width, n_heads=max(1, width // 32), d_ff=width * 344 // 128)


def _decode_one(
    arch: str,
    kv_mode: str,
    batch: int,
    new: int,
    seed: int,
    sharing: str = "middle_cycle",
    schedule: str = "sync",
    width: int = 128,
) -> dict[str, Any]:
    from mctd_mor import MoRCache, MoRConfig, MoRForCausalLM
    from mctd_mor.depthwise import decode_depthwise

    nr = 1 if arch == "vanilla" else 3
    cfg = MoRConfig(
        arch=arch,
        vocab_size=4096,
        n_recursion=nr,
        kv_mode=kv_mode,
        sharing="cycle" if arch == "vanilla" else sharing,
        **decode_sizes(width),
    )
    torch.manual_seed(seed)
    model = MoRForCausalLM(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    total = 32 + new
    ids = torch.randint(0, 4096, (batch, total), generator=g)
    depths = None
    if arch.startswith("mor"):
        u = torch.rand(batch, total, generator=g)
        caps = torch.tensor(cfg.capacities)
        depths = (u[..., None] < caps).sum(-1)  # P(depth >= r) = c_r
    cache = MoRCache()
    calls = 0
    with torch.inference_mode():
        model(
            ids[:, :32],
            cache=cache,
            depths=None if depths is None else depths[:, :32],
            logits="none",
        )
        t0, c0 = time.perf_counter(), time.process_time()
        if schedule == "depthwise":
            calls = decode_depthwise(model, ids, 32, cache, depths=depths).ticks
        else:
            for t in range(32, total):
                d = None if depths is None else depths[:, t : t + 1]
                o = model(
                    ids[:, t : t + 1],
                    torch.full((batch, 1), t),
                    cache=cache,
                    depths=d,
                    logits="last",
                )
                calls += int(o.depth.max())
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "arch": arch,
        "kv_mode": kv_mode,
        "schedule": schedule,
        "tokens_per_s": batch * new / cpu,
        "tokens_per_wall_s": batch * new / dt,
        "block_calls": calls,
        "kv_bytes": cache.nbytes(),
        "kv_held_bytes": cache.held_bytes(),
        "unique_params": model.num_unique_params(),
    }


DECODE_MODELS = [
    ("vanilla", "recursion", "sync"),
    ("recursive", "recursion", "sync"),
    ("mor-ec", "recursion", "sync"),
    ("mor-ec", "recursion", "depthwise"),
    ("mor-ec", "share", "sync"),
]


def matmul_curve(rows: tuple[int, ...] = (1, 5, 11, 16, 32, 64)) -> dict[int, float]:
    """CPU microseconds of one layer's seven matmuls (`SIZES`) on ``rows`` token rows: how
    much a recursion saves when fewer rows take it."""
    d, ff = SIZES["d_model"], SIZES["d_ff"]
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(d, d, generator=g) for _ in range(4)]
    ws += [torch.randn(ff, d, generator=g) for _ in range(2)] + [torch.randn(d, ff, generator=g)]
    out = {}
    for m in rows:
        x, z = torch.randn(m, d, generator=g), torch.randn(m, ff, generator=g)

        def layer(x: torch.Tensor = x, z: torch.Tensor = z) -> None:
            for w in ws[:6]:
                torch.nn.functional.linear(x, w)
            torch.nn.functional.linear(z, ws[6])

        best = float("inf")
        for _ in range(5):
            c0 = time.process_time()
            for _ in range(200):
                layer()
            best = min(best, (time.process_time() - c0) / 200)
        out[m] = best * 1e6
    print("\n== one layer's matmuls (d 128, ff 344), CPU us by token rows ==")
    print("  " + ", ".join(f"{m} rows: {us:.0f}" for m, us in out.items()))
    return out


def part_decode(args: argparse.Namespace) -> dict[str, Any]:
    """Decode speed (CPU seconds of this process: the machine is shared) and KV memory."""
    out: dict[str, Any] = {"width": args.width, "matmul_us_by_rows": matmul_curve()}
    for sharing in args.sharings.split(","):
        for batch in [int(b) for b in str(args.batch).split(",")]:
            out[f"{sharing}/b{batch}"] = _decode_table(args, sharing, batch)
    return out


def _decode_table(args: argparse.Namespace, sharing: str, batch: int) -> dict[str, Any]:
    rows = []
    for rep in range(args.repeats):  # interleaved repeats: the best of each, same machine state
        for arch, kv, sched in DECODE_MODELS:
            rows.append(_decode_one(arch, kv, batch, args.new, rep, sharing, sched, args.width))
    best: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = f"{r['arch']}/{r['kv_mode']}" + ("/depthwise" if r["schedule"] == "depthwise" else "")
        if key not in best or r["tokens_per_s"] > best[key]["tokens_per_s"]:
            best[key] = r
    rec = best["recursive/recursion"]
    van = best["vanilla/recursion"]
    print(
        f"\n== decode ({sharing}, d_model {args.width}): batch {batch}, {args.new} new tokens "
        f"after 32 (best of "
        f"{args.repeats}; tok/s per CPU second) =="
    )
    print(
        f"{'model':28s} {'tok/s':>8s} {'vs rec':>7s} {'vs van':>7s} {'KV MB':>7s} "
        f"{'KV/rec':>7s} {'held/rec':>8s} {'blocks':>7s} {'params':>9s}"
    )
    for key, r in best.items():
        r["speed_vs_recursive"] = r["tokens_per_s"] / rec["tokens_per_s"]
        r["speed_vs_vanilla"] = r["tokens_per_s"] / van["tokens_per_s"]
        r["kv_vs_recursive"] = r["kv_bytes"] / rec["kv_bytes"]
        r["held_vs_recursive"] = r["kv_held_bytes"] / rec["kv_held_bytes"]
        print(
            f"{key:28s} {r['tokens_per_s']:8.0f} {r['speed_vs_recursive']:7.2f} "
            f"{r['speed_vs_vanilla']:7.2f} {r['kv_bytes'] / 2**20:7.2f} "
            f"{r['kv_vs_recursive']:7.2f} {r['held_vs_recursive']:8.2f} {r['block_calls']:7d} "
            f"{r['unique_params']:9d}"
        )
    return best


def _curve(run: Path) -> list[tuple[float, float]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(run / "tb"), purge_orphaned_data=False)  # a resumed run re-logs
    ea.Reload()
    nll = {e.step: e.value for e in ea.Scalars("eval/val_nll")}
    fl = {e.step: e.value for e in ea.Scalars("eval/train_flops")}
    return [(fl[s], nll[s]) for s in sorted(nll)]


def _flops_to_reach(curve: list[tuple[float, float]], target: float) -> float | None:
    """First FLOPs at which the curve (linearly interpolated) gets to ``target`` NLL; the
    tolerance covers TensorBoard's float32 copy of a run's own final NLL."""
    target += 1e-5
    prev = None
    for f, v in curve:
        if v <= target:
            if prev is None:
                return f
            (f0, v0) = prev
            return f0 + (f - f0) * (v0 - target) / (v0 - v) if v0 != v else f
        prev = (f, v)
    return None


def _train_seed(args: argparse.Namespace, out: Path, seed: int) -> dict[str, Any]:
    """The four architectures trained with one seed; each curve and FLOPs to vanilla's NLL."""
    from mctd_trainer.mor import MorTrainConfig, train_mor

    res: dict[str, Any] = {}
    for arch in ("vanilla", "recursive", "mor-ec", "mor-tc"):
        cfg = MorTrainConfig(
            arch=arch,
            n_recursion=3,
            steps=args.steps,
            seed=seed,
            ckpt_every=max(1, args.steps // 6),
            batch_size=args.train_batch,
            seq_len=128,
            warmup=max(1, args.steps // 10),
            val_frac=args.val_frac,
            corpus_shards=args.corpus_shards,
            **SIZES,
        )
        run = out / arch
        t0 = time.perf_counter()
        m = train_mor(cfg, run, resume=(run / "checkpoints").is_dir(), threads=1)
        m["minutes"] = (time.perf_counter() - t0) / 60
        m["curve"] = _curve(run)
        res[arch] = m
    van = res["vanilla"]
    print(f"\n== train, seed {seed}: {args.steps} steps x {args.train_batch} x 128 tokens ==")
    print(
        f"{'arch':10s} {'params':>8s} {'val NLL':>8s} {'FLOPs':>10s} {'to vanilla NLL':>15s} "
        f"{'NLL at van FLOPs':>17s}"
    )
    for arch, m in res.items():
        reach = _flops_to_reach(m["curve"], van["val_nll"])
        m["flops_to_vanilla_nll"] = reach
        m["reach_vs_vanilla"] = reach / van["train_flops"] if reach else None
        fl, nl = zip(*m["curve"], strict=True)
        m["nll_at_vanilla_flops"] = float(np.interp(van["train_flops"], fl, nl))
        rs = f"{m['reach_vs_vanilla']:.2f}x van" if reach else "not reached"
        print(
            f"{arch:10s} {m['unique_params']:8d} {m['val_nll']:8.4f} "
            f"{m['train_flops']:10.3e} {rs:>15s} {m['nll_at_vanilla_flops']:17.4f}"
        )
        print("    curve (FLOPs, NLL): " + ", ".join(f"({f:.2e}, {v:.3f})" for f, v in m["curve"]))
    return res


def part_train(args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """``--seeds`` seeds of the four architectures (runs in ``out/seed<s>/<arch>``); a summary
    over seeds; the depth report of the first seed's MoR-EC."""
    seeds = [int(s) for s in str(args.seeds).split(",")]
    res: dict[str, Any] = {f"seed{s}": _train_seed(args, out / f"seed{s}", s) for s in seeds}
    print(f"\n== train summary over seeds {seeds} (mean, min-max) ==")
    summary: dict[str, Any] = {}
    for arch in ("vanilla", "recursive", "mor-ec", "mor-tc"):
        runs = [res[f"seed{s}"][arch] for s in seeds]
        nll = [m["val_nll"] for m in runs]
        reach = [m["reach_vs_vanilla"] for m in runs]
        at = [m["nll_at_vanilla_flops"] for m in runs]
        got = [r for r in reach if r is not None]
        summary[arch] = {"val_nll": nll, "reach_vs_vanilla": reach, "nll_at_vanilla_flops": at}
        rs = (
            f"{np.mean(got):.2f}x ({min(got):.2f}-{max(got):.2f}), reached {len(got)}/{len(seeds)}"
            if got
            else f"not reached (0/{len(seeds)})"
        )
        print(
            f"{arch:10s} val NLL {np.mean(nll):.3f} ({min(nll):.3f}-{max(nll):.3f}); at "
            f"vanilla's FLOPs {np.mean(at):.3f} ({min(at):.3f}-{max(at):.3f}); "
            f"FLOPs to vanilla's NLL: {rs}"
        )
    res["summary"] = summary
    _nll_figure(res, seeds)
    res["depths"] = depth_report(
        out / f"seed{seeds[0]}" / "mor-ec", args.val_frac, args.corpus_shards
    )
    return res


def _nll_figure(res: dict[str, Any], seeds: list[int]) -> None:
    """Validation NLL against training FLOPs, one line per arch and seed (``mor_nll_flops.png``)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colors = dict(
        zip(("vanilla", "recursive", "mor-ec", "mor-tc"), plt.cm.tab10.colors, strict=False)
    )
    for arch, color in colors.items():
        for i, s in enumerate(seeds):
            fl, nl = zip(*res[f"seed{s}"][arch]["curve"], strict=True)
            ax.plot(fl, nl, "o-", color=color, ms=3, alpha=0.8, label=arch if i == 0 else None)
    ax.set_xlabel("training FLOPs (counted)")
    ax.set_ylabel("validation NLL (nats/token)")
    ax.set_title(f"NLL vs training FLOPs, seeds {','.join(map(str, seeds))}")
    ax.legend()
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "mor_nll_flops.png", dpi=120)


def depth_report(run: Path, val_frac: float, shards: int = 0) -> dict[str, Any]:
    """Mean recursion depth per token string on validation text, and a figure."""
    from mctd_trainer.corpus import find_corpus, load_texts
    from mctd_trainer.corpus.tokens import split_texts
    from mctd_trainer.mor import load_mor_lm

    lm = load_mor_lm(run)
    _, val = split_texts(load_texts(find_corpus(), shards=shards or None), val_frac)
    sums: dict[str, list[int]] = {}
    shown_tokens: list[str] = []
    shown_depths: list[int] = []
    with torch.inference_mode():
        for i, text in enumerate(val[:40]):
            ids = lm.encode(text)[:128]
            out = lm.model(torch.tensor([ids]), logits="none")
            for t, d in zip(ids, out.depth[0].tolist(), strict=True):
                sums.setdefault(lm.decode([t]), []).append(d)
            if i == 0:
                shown_tokens = [lm.decode([t]) for t in ids[:60]]
                shown_depths = out.depth[0, :60].tolist()
    mean = {k: float(np.mean(v)) for k, v in sums.items() if len(v) >= 5}
    order = sorted(mean, key=lambda k: -mean[k])
    print("\n== MoR-EC depth (threshold rule) by token, validation text ==")
    print("deepest: " + ", ".join(f"{k!r}:{mean[k]:.2f}" for k in order[:15]))
    print("shallowest: " + ", ".join(f"{k!r}:{mean[k]:.2f}" for k in order[-15:]))
    _figure(shown_tokens, shown_depths)
    return {"deepest": order[:15], "shallowest": order[-15:], "mean_depth": mean}


def _figure(tokens: list[str], depths: list[int]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(14, 2.6))
    ax.bar(range(len(depths)), depths, color="tab:blue")
    ax.set_xticks(
        range(len(tokens)), [t.replace("\n", "\\n") for t in tokens], rotation=90, fontsize=7
    )
    ax.set_ylabel("recursions")
    ax.set_title("MoR-EC: recursion depth per token (first validation story)")
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    fig.savefig(RESULTS / "mor_depths.png", dpi=120)


def part_search(args: argparse.Namespace, run: Path) -> dict[str, Any]:
    from mctd_mor import Compute, SplitComputeLM
    from mctd_trainer.mor import load_mor_lm
    from mctd_tree import Budget, maxent_ts
    from mctd_tree.problems.tokens import TokenSearchProblem

    def reward(texts: list[str]) -> np.ndarray:
        return np.array(
            [np.mean([w.lower().startswith("s") for w in t.split()] or [0.0]) for t in texts]
        )

    full = load_mor_lm(run)
    prompt = full.encode("Once upon a time, there was a little")

    def search(lm: Any, sims: int, seed: int) -> tuple[float, int, int]:
        lm.reset_counters()
        lm.clear_cache()
        prob = TokenSearchProblem(lm, prompt, reward, k=4, max_new_tokens=args.search_tokens)
        res = maxent_ts(prob, Budget(simulations=sims), k=4, lam=4.0, parallel=4, rng=seed)
        return float(res.best_reward), lm.flops.total, lm.counters.nfe

    base = SplitComputeLM(full, full.with_compute(Compute()))
    cheap = SplitComputeLM(full, full.with_compute(Compute(max_depth=1)))
    out: dict[str, Any] = {"full": [], "depth1": []}
    for seed in range(args.search_seeds):
        r_full, f_full, n_full = search(base, args.sims, seed)
        # depth-1 rollouts: one more simulation at a time until their FLOPs pass the full
        # search's; the count (that one or the one before) whose FLOPs come closest
        tries = [(args.sims, *search(cheap, args.sims, seed))]
        while tries[-1][2] < f_full and tries[-1][0] < 8 * args.sims:
            tries.append((tries[-1][0] + 1, *search(cheap, tries[-1][0] + 1, seed)))
        sims, r_low, f_low, n_low = min(tries[-2:], key=lambda t: abs(t[2] - f_full))
        out["full"].append({"sims": args.sims, "reward": r_full, "flops": f_full, "nfe": n_full})
        out["depth1"].append({"sims": sims, "reward": r_low, "flops": f_low, "nfe": n_low})
    print(
        "\n== MaxEnt-TS on MoR-EC: full-depth vs depth-1 rollouts (toy reward: share of s-words), "
        f"{args.search_seeds} seeds =="
    )
    for name, rows in out.items():
        print(
            f"{name:10s} sims {np.mean([r['sims'] for r in rows]):5.1f}  best reward "
            f"{np.mean([r['reward'] for r in rows]):.3f} ("
            + ", ".join(f"{r['reward']:.3f}" for r in rows)
            + f")  FLOPs {np.mean([r['flops'] for r in rows]):.3e}  NFE "
            f"{np.mean([r['nfe'] for r in rows]):.0f}"
        )
    ratio = [d["flops"] / f["flops"] for d, f in zip(out["depth1"], out["full"], strict=True)]
    print(f"FLOPs depth-1 / full: {min(ratio):.3f}-{max(ratio):.3f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="decode,train,search")
    ap.add_argument("--batch", default="1,16,64", help="Decode batch sizes (comma-separated).")
    ap.add_argument("--sharings", default="middle_cycle,cycle", help="Decode parameter sharings.")
    ap.add_argument("--new", type=int, default=64)
    ap.add_argument("--width", type=int, default=128, help="Decode models' d_model.")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--train-batch", type=int, default=16)
    ap.add_argument("--seeds", default="0", help="Training seeds (comma-separated).")
    ap.add_argument("--val-frac", type=float, default=0.1, help="Validation share of stories.")
    ap.add_argument(
        "--corpus-shards",
        type=int,
        default=0,
        help="Train on the corpus's first K shards (0: all).",
    )
    ap.add_argument("--runs", type=Path, default=None, help="Run dirs (default: a temp dir).")
    ap.add_argument("--sims", type=int, default=16)
    ap.add_argument("--search-seeds", type=int, default=4, help="Search seeds (search part).")
    ap.add_argument("--search-tokens", type=int, default=24)
    args = ap.parse_args()
    torch.set_num_threads(1)
    parts = set(args.parts.split(","))
    out: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "cpu_count": os.cpu_count(),
    }
    if "decode" in parts:
        out["decode"] = part_decode(args)
    runs = args.runs or Path(tempfile.mkdtemp(prefix="mor_lm-"))
    if "train" in parts:
        out["train"] = part_train(args, runs)
    if "search" in parts:
        seed0 = str(args.seeds).split(",")[0]
        out["search"] = part_search(args, runs / f"seed{seed0}" / "mor-ec")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "mor_lm.json").write_text(json.dumps(out, indent=1, default=str) + "\n")
    print(f"\nwrote {RESULTS / 'mor_lm.json'}")


if __name__ == "__main__":
    main()
