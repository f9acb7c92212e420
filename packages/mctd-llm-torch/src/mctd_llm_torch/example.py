"""Token-level search with the embedded model: MaxEnt-TS, DTS*, MCTS and best-of-N on one prompt.

    python -m mctd_llm_torch.example --budget 12 --max-new-tokens 32

The reward is a toy that needs no ground truth: the share of words that start with the letter
``--letter`` (alliteration), minus a small penalty if the completion is cut off unfinished. Every
method gets the same number of rollouts; the table shows what each bought with its model work.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from mctd_tree import Budget, best_of_n, dts_star, greedy, maxent_ts, mcts
from mctd_tree.problems.tokens import TokenSearchProblem

from mctd_llm_torch.model import TorchLM


def alliteration_reward(letter: str) -> Callable[[Sequence[str]], np.ndarray]:
    """Share of words starting with ``letter``; 0.25 off if the text does not end a sentence."""
    letter = letter.lower()

    def reward(texts: Sequence[str]) -> np.ndarray:
        out = []
        for t in texts:
            words = re.findall(r"[A-Za-z']+", t)
            share = sum(w[0].lower() == letter for w in words) / max(len(words), 1)
            out.append(share - (0.0 if t.rstrip().endswith((".", "!", "?")) else 0.25))
        return np.asarray(out, dtype=float)

    return reward


def run(
    lm: TorchLM,
    prompt: str,
    *,
    letter: str = "s",
    budget: int = 12,
    max_new_tokens: int = 32,
    k: int = 4,
    chunk: int = 1,
    parallel: int = 4,
    lam: float = 4.0,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Run every method on ``prompt``; return one row per method."""
    ids = lm.chat_prompt([{"role": "user", "content": prompt}])
    reward = alliteration_reward(letter)

    def problem() -> TokenSearchProblem:
        return TokenSearchProblem(lm, ids, reward, k=k, max_new_tokens=max_new_tokens, chunk=chunk)

    methods: dict[str, Callable[[TokenSearchProblem], Any]] = {
        "greedy": lambda p: greedy(p),
        f"best-of-{budget}": lambda p: best_of_n(p, budget, rng=seed),
        "MCTS (UCT)": lambda p: mcts(
            p, Budget(simulations=budget), k=k, parallel=parallel, rng=seed
        ),
        "DTS*": lambda p: dts_star(
            p, Budget(simulations=budget), lam=lam, backup="max", parallel=parallel, rng=seed
        ),
        "MaxEnt-TS": lambda p: maxent_ts(
            p, Budget(simulations=budget), k=k, lam=lam, parallel=parallel, rng=seed
        ),
    }
    rows = []
    for name, method in methods.items():
        lm.clear_cache()  # every method starts cold: the prompt is paid by each
        lm.reset_counters()
        prob = problem()
        t0 = time.perf_counter()
        res = method(prob)
        wall = time.perf_counter() - t0
        rows.append(
            {
                "method": name,
                "reward": float(res.best_reward),
                "text": prob.completion_text(res.best_state),
                "positions": lm.counters.nfe,
                "calls": lm.counters.calls,
                "wall_s": wall,
            }
        )
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default", help="'default', a Hub id, a folder or a .gguf")
    ap.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    ap.add_argument("--prompt", default="Write one short sentence about the sea.")
    ap.add_argument("--letter", default="s", help="the reward favours words starting with it")
    ap.add_argument("--budget", type=int, default=12, help="rollouts per method")
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--k", type=int, default=4, help="children per node (top-k)")
    ap.add_argument("--chunk", type=int, default=1, help="tokens per tree edge")
    ap.add_argument("--parallel", type=int, default=4, help="leaves per batched iteration")
    ap.add_argument("--lam", type=float, default=4.0, help="inverse temperature of soft values")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = ap.parse_args(argv)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    lm = TorchLM(args.model, device=args.device)
    print(f"model {lm.name} on {lm.device} ({lm.dtype}); prompt: {args.prompt!r}")
    rows = run(
        lm,
        args.prompt,
        letter=args.letter,
        budget=args.budget,
        max_new_tokens=args.max_new_tokens,
        k=args.k,
        chunk=args.chunk,
        parallel=args.parallel,
        lam=args.lam,
        seed=args.seed,
    )
    print(
        f"{'method':<14} {'reward':>7} {'positions':>9} {'calls':>6} {'wall s':>7}  best completion"
    )
    for r in rows:
        text = r["text"].replace("\n", " ")
        print(
            f"{r['method']:<14} {r['reward']:7.3f} {r['positions']:9d} {r['calls']:6d} "
            f"{r['wall_s']:7.2f}  {text!r}"
        )


if __name__ == "__main__":
    main()
