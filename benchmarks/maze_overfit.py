"""Overfit check of maze planner networks: can a net learn one plan and sample it back?

Each net (the first is the baseline) is trained from scratch on ``--windows`` fixed training
windows of the medium navigate dataset (batch 16, v loss, anchored, start inpainting, pyramid
rows 0.5), then samples one plan per window from the window's start with full-sequence DDIM and
with the pyramid (50 levels). A correct denoiser + sampler reproduces the windows; printed per
net: the last loss, the x0 RMS error (world units) along its own full-sequence trajectory, the
final RMS error of both samplers and the pyramid plans' largest jump, with ratios against the
baseline. This found the U-Net's missing full-resolution skip (mctd-diffusion 0.6.1). Rows go
to ``benchmarks/results/maze_overfit.json``.

Run:  OMP_NUM_THREADS=1 uv run --package mctd-trainer python benchmarks/maze_overfit.py \
        [--nets transformer unet] [--steps 1500] [--windows 1]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from mctd_diffusion.maze.planner import PlannerArch, PlannerTraining, build_model
from mctd_diffusion.maze.pyramid import PlanDenoiser
from mctd_diffusion.maze.train import PlannerLoss
from mctd_tree.files import write_json

RESULTS = Path(__file__).resolve().parent / "results"
TRACE = (50, 30, 20, 10, 1)  # levels at which the x0 error along the trajectory is printed


def bench_arch(net: str) -> PlannerArch:
    """The medium planner of these checks: ``transformer`` (d 64) or ``unet`` (d 32), anchored,
    start inpainting."""
    return PlannerArch(
        maze="medium",
        net=net,
        d_model=64 if net == "transformer" else 32,
        anchor=True,
        inpaint="start",
        pos_scale=4.0,
        neighbour=net == "transformer",
    )


def fit(net: str, steps: int, windows: int) -> tuple[PlannerLoss, torch.nn.Module, float]:
    """(loss holding the windows, trained model, last loss) of ``net`` on ``windows`` windows."""
    arch = bench_arch(net)
    loss = PlannerLoss(arch, PlannerTraining(batch_size=16, loss_weight="v", pyramid_frac=0.5))
    loss.obs = loss.obs[:windows, : arch.horizon + 1].contiguous()  # one start index: s = 0
    torch.manual_seed(0)
    model = build_model(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    value = float("nan")
    for step in range(steps):
        out = loss(model, step)
        opt.zero_grad()
        out.backward()
        opt.step()
        value = out.item()
    return loss, model.eval(), value


def sample_back(loss: PlannerLoss, model: torch.nn.Module) -> dict[str, float]:
    """Full-sequence and pyramid samples from each window's start against the window."""
    den = PlanDenoiser(model, loss.arch, levels=50)
    w, scale = loss.obs.shape[0], loss.codec.scale
    start, plan = loss.obs[:, 0], loss.obs[:, : loss.arch.n_states]
    x0, goal = loss.codec.plan_tokens(plan, start), plan[:, -1]
    rms = lambda x: float((x - x0).pow(2).mean().sqrt() * scale)  # noqa: E731
    rng, zeros, row = np.random.default_rng(0), torch.zeros(w), {}
    x = den.noise(w, rng)
    for k in range(den.levels, 0, -1):
        k_from = torch.full(x.shape[:2], k, dtype=torch.long)
        if k in TRACE:
            t_in = torch.cat([torch.zeros(w, 1, dtype=torch.long), den._t_of_level[k_from]], 1)
            xt = den.codec.inpaint(x, start, goal)
            with torch.no_grad():
                pred = model(torch.cat([den.codec.context(start), xt], 1), t_in)[:, 1:]
            row[f"x0 error at level {k}"] = rms(den.codec.inpaint(pred, start, goal))
        x = den.transition(x, start, goal, k_from, k_from - 1, zeros)
    row["full-sequence error"] = rms(x)
    rows = torch.zeros(w, dtype=torch.long)
    x = den.advance(den.noise(w, rng), start, goal, rows, torch.full((w,), den.last_row), zeros)
    row["pyramid error"] = rms(x)
    states = loss.codec.to_states(x) * scale
    row["pyramid max jump"] = float((states[:, 1:] - states[:, :-1]).norm(dim=-1).max())
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", default=["transformer", "unet"])
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--windows", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(1)
    out, base = [], None
    for net in args.nets:
        loss, model, last = fit(net, args.steps, args.windows)
        row = {"last loss": last} | sample_back(loss, model)
        base = base or row
        print(f"{net} ({args.steps} steps, {args.windows} window(s)):")
        for name, v in row.items():
            ratio = f"  (x{v / base[name]:.2f} of {args.nets[0]})" if base[name] > 0 else ""
            print(f"  {name:>22}: {v:.3f}{ratio}")
        out.append({"net": net, "steps": args.steps, "windows": args.windows} | row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS / "maze_overfit.json", out)


if __name__ == "__main__":
    main()
