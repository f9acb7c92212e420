"""Tree bookkeeping cost per simulation, with a free model, as the tree grows.

A synthetic problem whose "model" is a hash (no network at all) is searched by DTS (rollout states
kept) and MCTS (enumerated slots). Time spent inside the problem is measured and subtracted, so
what is printed is the search core's own cost per simulation at 10^3, 10^4 and 10^5 nodes, and at
several depths. It should grow with depth (a descent and a backup walk the path) and stay flat in
the node count. Run: ``uv run --package mctd-tree python benchmarks/tree_overhead.py``.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial
from pathlib import Path

import numpy as np
from mctd_tree import Child, Counters, Proposals, Rollout, SearchConfig, TreeSearch
from mctd_tree import policies as P


class FreeTree:
    """A deep tree whose priors and rewards come from hashing the state: a model that costs ~0."""

    def __init__(self, branching: int, depth: int) -> None:
        self.b, self.depth = branching, depth
        base = np.random.default_rng(0).dirichlet(np.ones(branching))
        self.logp = np.log(base)
        self.cdf = np.cumsum(base)
        self.counters = Counters()
        self.model_time = 0.0

    def root(self):
        return ()

    def is_terminal(self, s):
        return len(s) >= self.depth

    def _draw(self, s, rng):
        a = int(np.searchsorted(self.cdf, rng.random() * self.cdf[-1]))
        a = (a + hash(s)) % self.b
        return Child(a, (*s, a), float(self.logp[(a - hash(s)) % self.b]))

    def sample(self, states, rng):
        t = time.perf_counter()
        out = [self._draw(s, rng) for s in states]
        self.counters.nfe += len(states)
        self.counters.calls += 1
        self.model_time += time.perf_counter() - t
        return out

    def propose(self, states, k):
        t = time.perf_counter()
        order = np.argsort(-self.logp)[:k]
        out = [Proposals((order + hash(s)) % self.b, self.logp[order]) for s in states]
        self.model_time += time.perf_counter() - t
        return out

    def step(self, states, actions):
        return [(*s, int(a)) for s, a in zip(states, actions, strict=True)]

    def rollout(self, states, rng):
        t = time.perf_counter()
        out = []
        for s in states:
            path = []
            while not self.is_terminal(s):
                ch = self._draw(s, rng)
                path.append(ch)
                s = ch.state
            self.counters.nfe += len(path)
            out.append(Rollout(path, (hash(s) % 1000) / 1000.0, s))
        self.counters.calls += 1
        self.model_time += time.perf_counter() - t
        return out


def per_sim_cost(cfg: SearchConfig, depth: int, sizes: list[int], branching: int = 8):
    """Bookkeeping seconds per simulation, measured in a window of simulations at each size."""
    problem = FreeTree(branching, depth)
    search = TreeSearch(problem, cfg, rng=0)
    out = {}
    for size in sizes:
        while search.tree.size < size:
            search.iterate(cfg.parallel)
        window = 500
        model0, t0 = problem.model_time, time.perf_counter()
        for _ in range(window // cfg.parallel):
            search.iterate(cfg.parallel)
        wall = time.perf_counter() - t0
        out[size] = (wall - (problem.model_time - model0)) / window
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="benchmarks/results/tree_overhead.json")
    args = ap.parse_args()
    sizes = [1_000, 10_000, 100_000]
    configs = {
        "dts": SearchConfig(
            "widen",
            partial(P.boltzmann_select, lam=1.0),
            partial(P.soft_update, lam=1.0),
            partial(P.boltzmann_reach, lam=1.0),
        ),
        "mcts": SearchConfig("enumerate", partial(P.uct_select, c=2**0.5), P.mean_update, k=8),
    }
    results: dict[str, dict] = {}
    for name, cfg in configs.items():
        by_size = per_sim_cost(cfg, depth=12, sizes=sizes)
        by_depth = {d: per_sim_cost(cfg, depth=d, sizes=[10_000])[10_000] for d in (6, 12, 24)}
        results[name] = {"by_size_depth12": by_size, "by_depth_at_1e4_nodes": by_depth}
        base = by_size[sizes[0]]
        print(f"{name}: bookkeeping per simulation (depth 12)")
        for size, cost in by_size.items():
            print(
                f"  {size:>7} nodes: {1e6 * cost:8.1f} us   ratio to 10^3 nodes {cost / base:5.2f}"
            )
            print(f"                  simulations/s (bookkeeping only) {1 / cost:8.0f}")
        d0 = by_depth[6]
        for d, cost in by_depth.items():
            print(
                f"  depth {d:>2} at 10^4 nodes: {1e6 * cost:8.1f} us"
                f"   ratio to depth 6 {cost / d0:5.2f}"
            )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
