"""digits: tree search over a latent UNet vs best-of-N, importance, SMC and guidance at equal NFE.

The UNet (``mctd-train unet``) samples VAE latents *without* a class (the all-zeros "no class"
input, learned with label dropout), so the prior covers all ten digits; the reward is
log p(class = c | decoded image) under the CNN classifier (``mctd-train classifier``), tilted with
lam. Per method and NFE budget (NFE = UNet evaluations per element; a guided call counts 2), on
the n_out samples each method returns: target-class rate, mean reward, diversity (mean pairwise
distance in the classifier's 64-d feature space) and the Frechet distance in that space to the
real validation digits of class c. Also: the fewest NFE at which each method reaches best-of-N's
target-class rate at the largest budget, and the ratio to best-of-N's NFE. An image grid per
method and budget goes to ``benchmarks/results/digits_search/``, the table to
``benchmarks/results/digits_search.json``.

With ``--curve``: the complexity budget's quality/time curve (``fast_mctd`` on the MoR UNet
given as ``--unet``: rollouts at capacity min(1, budget / 2), committed steps at full capacity)
at ``--curve-nfe``, against budget 2 (full capacity everywhere) of the same run. With ``--mor
RUN --vanilla RUN``: the MoR UNet against the vanilla UNet of equal unique parameters (FLOPs per
call as run, eps-MSE on validation latents, DTS target rate), with quality at equal FLOPs and
FLOPs at equal quality.

Run:  OMP_NUM_THREADS=1 uv run python benchmarks/digits_search.py --vae RUN --unet RUN \
        --classifier RUN [--target 3] [--budgets 200 800 3200] [--curve] \
        [--mor RUN --vanilla RUN]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
from mctd_diffusion import DenoisingProblem
from mctd_diffusion.images import VAE, ClassReward, check_latent_match, load_digits_split
from mctd_diffusion.images.metrics import score_latents
from mctd_diffusion.methods import run_method
from mctd_trainer.digits import load_digits_model

ROOT = Path(__file__).resolve().parent
METHODS = ("best_of_n", "importance", "smc", "guidance", "cfg", "dts", "dts_star", "fast_mctd")
CURVE = (0.25, 0.5, 1.0, 1.5, 2.0)  # complexity budgets (0.5 / 1.0 / 1.5: the guide's presets)


def grid(images: torch.Tensor, path: Path, title: str) -> None:
    """Save up to 32 images (n, 1, 8, 8) as a 4 x 8 grid PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(4, 8, figsize=(6, 3.4))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < len(images):
            ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
    fig.suptitle(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def forward_flops(net: torch.nn.Module, shape: tuple[int, ...]) -> int:
    """FLOPs of one forward pass on one element (no class input)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc, torch.no_grad():
        net(torch.zeros(1, *shape), torch.tensor([500]), torch.zeros(1, 10))
    return int(fc.get_total_flops())


def compare_mor(
    args: argparse.Namespace,
    problem: DenoisingProblem,
    vae: VAE,
    clf: Any,
    real: torch.Tensor,
    data: Any,
) -> dict[str, Any]:
    """The MoR UNet at capacities 1, 0.75, 0.5, 0.25 vs the vanilla UNet of equal unique
    parameters: FLOPs per call, eps-MSE, DTS target rate; quality at equal FLOPs, FLOPs at
    equal quality."""
    import copy

    from mctd_diffusion import diffusion_loss

    mor, mcfg, _ = load_digits_model(args.mor, "unet")
    van, _, _ = load_digits_model(args.vanilla, "unet")
    with torch.no_grad():
        z_val = vae.to_latent(data.x_val)
    onehot = torch.nn.functional.one_hot(data.y_val, 10).float()
    rows = []
    print(
        f"\nMoR UNet ({args.mor}) vs vanilla of equal unique params ({args.vanilla}); "
        f"DTS at {args.mor_nfe} NFE"
    )
    print(
        f"{'model':>12} {'params':>7} {'MFLOP/call':>10} {'eps-MSE':>8} {'target':>7} {'reward':>8}"
    )
    for label, net, cap in [
        ("vanilla", van, None),
        *[(f"mor c={c}", mor, c) for c in (1.0, 0.75, 0.5, 0.25)],
    ]:
        if cap is not None:
            net.set_capacity(cap)
        g = torch.Generator().manual_seed(12345)
        with torch.no_grad():
            eps = float(diffusion_loss(net, mcfg.scheduler(), z_val, generator=g, cond=onehot))
        flops = forward_flops(net, vae.latent_shape)
        prob = copy.copy(problem)
        prob.model = net
        prob._check_model()  # its own FLOP meter
        run = run_method(
            "dts",
            prob,
            args.mor_nfe,
            lam=args.lam,
            n_out=args.n_out,
            seed=args.seed,
            parallel=args.parallel,
        )
        m = score_latents(run.samples, vae, clf, args.target, real)
        params = sum(p.numel() for p in net.parameters())
        rows.append({"model": label, "params": params, "flops": flops, "eps_mse": eps, **m})
        print(
            f"{label:>12} {params:>7} {flops / 1e6:>10.3f} {eps:>8.4f} "
            f"{m['target_rate']:>7.3f} {m['mean_reward']:>8.3f}",
            flush=True,
        )
    return {"rows": rows, **mor_summary(rows)}


def mor_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Quality at equal FLOPs (the MoR capacity with the most FLOPs not above vanilla's) and
    FLOPs at equal quality (the cheapest MoR capacity with eps-MSE <= vanilla's)."""
    van, mor = rows[0], rows[1:]
    out: dict[str, Any] = {}
    under = [r for r in mor if r["flops"] <= van["flops"]]
    if under:
        r = max(under, key=lambda r: r["flops"])
        out["equal_flops"] = {
            "mor": r["model"],
            "mor_flops": r["flops"],
            "mor_eps": r["eps_mse"],
            "vanilla_flops": van["flops"],
            "vanilla_eps": van["eps_mse"],
            "mor_target": r["target_rate"],
            "vanilla_target": van["target_rate"],
        }
        print(
            f"quality at equal FLOPs: {r['model']} {r['flops'] / 1e6:.3f} MFLOP eps-MSE "
            f"{r['eps_mse']:.4f} target {r['target_rate']:.2f} vs vanilla "
            f"{van['flops'] / 1e6:.3f} MFLOP eps-MSE {van['eps_mse']:.4f} "
            f"target {van['target_rate']:.2f}"
        )
    good = [r for r in mor if r["eps_mse"] <= van["eps_mse"]]
    if good:
        r = min(good, key=lambda r: r["flops"])
        out["equal_quality"] = {"mor": r["model"], "flops_ratio": r["flops"] / van["flops"]}
        print(
            f"FLOPs at equal quality (eps-MSE <= vanilla's): {r['model']} "
            f"{r['flops'] / van['flops']:.2f}x vanilla's FLOPs"
        )
    else:
        out["equal_quality"] = None
        print("FLOPs at equal quality: no MoR capacity reaches vanilla's eps-MSE")
    return out


def complexity_curve(
    args: argparse.Namespace, problem: DenoisingProblem, vae: VAE, clf: Any, real: torch.Tensor
) -> list[dict[str, Any]]:
    """fast_mctd at each complexity budget of CURVE and ``--curve-nfe``; ratios vs budget 2."""
    from mctd_diffusion.complexity import rollout_capacity

    rows = []
    print(f"\ncomplexity budget (fast_mctd on {args.unet}), quality/time curve")
    print(
        f"{'budget':>6} {'roll cap':>8} {'nfe':>6} {'MFLOP':>8} {'wall s':>7} {'target':>7} "
        f"{'reward':>8} {'frechet':>8}"
    )
    for nfe in args.curve_nfe:
        for level in CURVE:
            run = run_method(
                "fast_mctd",
                problem,
                nfe,
                lam=args.lam,
                n_out=args.n_out,
                seed=args.seed,
                parallel=args.parallel,
                complexity=level,
            )
            m = score_latents(run.samples, vae, clf, args.target, real)
            row = {
                "budget": level,
                "rollout_capacity": rollout_capacity(level),
                "nfe_budget": nfe,
                "nfe": run.nfe,
                "flops": run.flops,
                "wall_s": run.wall_time,
                "n": len(run.samples),
                **m,
            }
            rows.append(row)
            print(
                f"{level:>6} {row['rollout_capacity']:>8.2f} {run.nfe:>6} {run.flops / 1e6:>8.1f} "
                f"{run.wall_time:>7.1f} {m['target_rate']:>7.3f} {m['mean_reward']:>8.3f} "
                f"{m['frechet']:>8.1f}",
                flush=True,
            )
        full = rows[-1]
        for r in rows[-len(CURVE) :]:
            r["flops_vs_full"] = r["flops"] / full["flops"]
            r["time_vs_full"] = r["wall_s"] / full["wall_s"]
        print(
            "  FLOPs vs budget 2: "
            + ", ".join(f"{r['budget']}: {r['flops_vs_full']:.2f}x" for r in rows[-len(CURVE) :])
        )
        print(
            "  time vs budget 2:  "
            + ", ".join(f"{r['budget']}: {r['time_vs_full']:.2f}x" for r in rows[-len(CURVE) :])
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vae", type=Path, required=True)
    ap.add_argument("--unet", type=Path, required=True)
    ap.add_argument("--classifier", type=Path, required=True)
    ap.add_argument("--target", type=int, default=3)
    ap.add_argument("--lam", type=float, default=5.0)
    ap.add_argument("--budgets", type=int, nargs="+", default=[200, 800, 3200])
    ap.add_argument("--methods", nargs="+", default=list(METHODS))
    ap.add_argument("--num-steps", type=int, default=20)
    ap.add_argument("--branch-every", type=int, default=5)
    ap.add_argument("--n-out", type=int, default=32)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mor", type=Path, default=None)
    ap.add_argument("--vanilla", type=Path, default=None, help="vanilla UNet, equal params")
    ap.add_argument("--mor-nfe", type=int, default=800)
    ap.add_argument("--curve", action="store_true", help="the complexity budget's curve")
    ap.add_argument("--curve-nfe", type=int, nargs="+", default=[800])
    args = ap.parse_args()
    torch.set_num_threads(1)
    vae, _, _ = load_digits_model(args.vae, "vae")
    unet, ucfg, _ = load_digits_model(args.unet, "unet")
    clf, _, _ = load_digits_model(args.classifier, "classifier")
    assert isinstance(vae, VAE)
    check_latent_match(vae.latent_shape, unet)  # type: ignore[arg-type]
    data = load_digits_split()
    real = data.x_val[data.y_val == args.target]
    problem = DenoisingProblem(
        unet,
        ucfg.scheduler(),
        ClassReward(vae, clf, args.target),
        sample_shape=vae.latent_shape,
        num_steps=args.num_steps,
        branch_every=args.branch_every,
        cond=torch.zeros(1, 10),
        guide_cond=torch.eye(10)[args.target : args.target + 1],
    )
    rows: list[dict[str, Any]] = []
    out_dir = ROOT / "results" / "digits_search"
    print(f"target class {args.target}, lam {args.lam}, {args.num_steps} DDIM steps (eta 1)")
    print(
        f"{'method':>11} {'budget':>6} {'nfe':>6} {'target':>7} {'reward':>8} {'div':>6} "
        f"{'frechet':>8} {'MFLOP':>8} {'wall s':>7}"
    )
    for budget in args.budgets:
        for name in args.methods:
            run = run_method(
                name,
                problem,
                budget,
                lam=args.lam,
                n_out=args.n_out,
                seed=args.seed,
                parallel=args.parallel,
            )
            m = score_latents(run.samples, vae, clf, args.target, real)
            row = {
                "method": name,
                "budget": budget,
                "nfe": run.nfe,
                "calls": run.calls,
                "wall_s": run.wall_time,
                "best_reward": run.best_reward,
                "flops": run.flops,
                **m,
            }
            rows.append(row)
            print(
                f"{name:>11} {budget:>6} {run.nfe:>6} {m['target_rate']:>7.3f} "
                f"{m['mean_reward']:>8.3f} {m['diversity']:>6.2f} {m['frechet']:>8.2f} "
                f"{run.flops / 1e6:>8.1f} {run.wall_time:>7.1f}",
                flush=True,
            )
            with torch.no_grad():
                imgs = vae.from_latent(torch.from_numpy(run.samples))
            grid(
                imgs,
                out_dir / f"{name}-{budget}.png",
                f"{name}, {run.nfe} NFE, class {args.target}",
            )
    ref = max(
        (r for r in rows if r["method"] == "best_of_n"), key=lambda r: r["budget"], default=None
    )
    summary: dict[str, Any] = {}
    if ref is not None:
        print(
            f"\nfewest NFE reaching best-of-N's target rate {ref['target_rate']:.3f} "
            f"(at {ref['nfe']} NFE):"
        )
        for name in args.methods:
            hit = [
                r for r in rows if r["method"] == name and r["target_rate"] >= ref["target_rate"]
            ]
            nfe = min((r["nfe"] for r in hit), default=None)
            ratio = None if nfe is None else ref["nfe"] / nfe
            summary[name] = {"nfe": nfe, "ratio_vs_best_of_n": ratio}
            print(
                f"  {name:>11}: " + ("not reached" if nfe is None else f"{nfe} NFE ({ratio:.2f}x)")
            )
    if args.mor is not None and args.vanilla is None:
        ap.error("--mor needs --vanilla (the vanilla UNet of equal unique parameters)")
    mor = {} if args.mor is None else compare_mor(args, problem, vae, clf, real, data)
    curve = complexity_curve(args, problem, vae, clf, real) if args.curve else []
    res = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "rows": rows,
        "mor": mor,
        "curve": curve,
        "summary": summary,
        "time": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    path = ROOT / "results" / "digits_search.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res, indent=1))
    print(f"wrote {path} and grids in {out_dir}")


if __name__ == "__main__":
    main()
