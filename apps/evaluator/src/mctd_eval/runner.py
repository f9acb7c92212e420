"""Run one cell: build the task's prompt and reward, run the method, measure it honestly.

Measurement rules (see PAPERS.md §2, "honest metrics"):
- The model's prefix cache is cleared first, then the prompt is prefilled once: ``prompt_nfe``
  (the same for every method on a prompt) is recorded apart from the search's ``nfe``.
- ``nfe`` / ``calls`` are the model's own counters (positions processed, forward calls) around
  the whole method call: proposals, sampling and rollouts, left-padding (``padded_nfe``) and
  distributions read from cached positions (``read_nfe``) included; the budget is spent on them.
  The reward's own model work (keywords' fluency) is metered apart (`MeteredReward`):
  ``reward_nfe`` / ``reward_calls``, so every forward of the cell is in ``prompt_nfe``, ``nfe`` or
  ``reward_nfe``. ``flops`` / ``reward_flops``: the matmul FLOPs of the same two parts for
  backends that count them (``mor``), else None.
  ``exhausted`` / ``stalled`` say why a search stopped below its budget; ``distribution`` names
  the one distribution the method's draws and priors use.
- ``wall_s`` is the wall time of the method call for this one prompt (time per sample).
- The answer is the method's best-reward completion; ``ppl`` is the perplexity of the answer's
  tokens only (EOS included, prompt excluded) from the model's log-probs; ``length`` counts its
  tokens (EOS excluded). A masked-diffusion LM's answer and samples are first cut where an AR
  decode would have stopped (`completion_tokens`: through the first EOS or stop string).
  Diversity is across all samples the method returned for this prompt (for DTS: descents of its
  tree, its samples of the tilted target).
- The search reward never receives the ground truth, except for tasks whose reward is an exact
  verifier (``reward_sees_truth``; recorded in the row).
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from mctd_tree import Budget
from mctd_tree.problems.tokens import TokenSearchProblem
from mctd_tree.protocols import LanguageModel

from mctd_eval.backends import clear_cache, flops_total, load_lm
from mctd_eval.config import Cell, RunConfig
from mctd_eval.diversity import diversity
from mctd_eval.metering import MeteredReward
from mctd_eval.methods import get_method
from mctd_eval.reference import reference_row
from mctd_eval.tasks import Instance, TaskBase, get_task
from mctd_eval.tasks.fluency import token_logprobs

if TYPE_CHECKING:
    from mctd_eval.diffusion import DiffusionRunner
    from mctd_eval.digits import DigitsRunner
    from mctd_eval.maze import MazeRunner

ANSWER_CHARS = 300
TIMING_FIELDS = ("wall_s",)


class CellRunner:
    """Runs cells of one configuration on one loaded model (``save_trees``: rows carry their
    tree viewer files, see ``mctd_eval.trees``)."""

    save_trees = False

    def __init__(self, lm: LanguageModel, cfg: RunConfig) -> None:
        self.lm = lm
        self.cfg = cfg
        self.tasks: dict[str, TaskBase] = {
            t: get_task(t, cfg.task_params.get(t)) for t in cfg.tasks
        }
        self._instances: dict[str, list[Instance]] = {}

    def instance(self, task: str, index: int) -> Instance:
        if task not in self._instances:
            self._instances[task] = self.tasks[task].instances(self.cfg.prompts)
        return self._instances[task][index]

    def run(self, cell: Cell, instance: Instance | None = None) -> dict[str, Any]:
        """One result row (JSON-ready; undefined metrics are None)."""
        task = self.tasks[cell.task]
        inst = instance if instance is not None else self.instance(cell.task, cell.prompt)
        if cell.method in task.references():
            return clean(reference_row(task, cell, inst))
        method = get_method(cell.method)
        lm = self.lm
        clear_cache(lm)
        prompt = task.prompt_ids(lm, inst.public)
        c0 = lm.counters.snapshot()
        lm.next_logprobs([prompt])
        prompt_nfe = lm.counters.since(c0).nfe
        verifier = inst.truth if task.reward_sees_truth else None
        reward = MeteredReward(task.search_reward(lm, prompt, inst.public, verifier=verifier), lm)
        problem = TokenSearchProblem(
            lm,
            prompt,
            reward,
            k=lm.vocab_size,  # no cap: the method's own k (or beam width) decides
            max_new_tokens=task.max_new_tokens(inst.public),
            chunk=self.cfg.chunk,
            temperature=self.cfg.temperature,
            top_p=self.cfg.top_p,
            stop=task.stop(),
        )
        if hasattr(lm, "search_problem"):  # a masked-diffusion LM searches over unmasking
            problem = lm.search_problem(
                prompt, reward, max_new_tokens=problem.max_new_tokens, stop=problem.stop,
                temperature=self.cfg.temperature,
            )  # fmt: skip
        params = self.cfg.method_params.get(cell.method) or method.resolve(None)
        budget = None if cell.budget is None else Budget(nfe=int(cell.budget))
        c1, t0, f1 = lm.counters.snapshot(), time.perf_counter(), flops_total(lm)
        result = method.run(problem, budget, params, cell.rng())
        wall = time.perf_counter() - t0
        used = lm.counters.since(c1)
        f2 = flops_total(lm)

        eos = lm.eos_token_ids
        answer = completion_tokens(problem, result.best_state)
        text = problem.completion_text(answer)
        lps = token_logprobs(lm, prompt, [answer])[0]
        samples = [
            [t for t in completion_tokens(problem, s) if t not in eos] for s, _ in result.samples
        ]
        stats = result.stats
        tree = result.tree is not None
        row: dict[str, Any] = {
            **base_row(cell, inst.label, used.nfe, used.calls, wall),
            "padded_nfe": used.padded,
            "read_nfe": used.reads,
            "flops": None if f1 is None or f2 is None else f2 - f1 - (reward.flops or 0),
            "reward_nfe": reward.used.nfe,
            "reward_calls": reward.used.calls,
            "reward_flops": reward.flops,
            "exhausted": stats.exhausted,
            "stalled": stats.stalled,
            "distribution": problem.distribution,
            "prompt_nfe": prompt_nfe,
            "simulations": stats.simulations,
            "iterations": stats.iterations,
            "nodes": stats.nodes if tree else None,
            "max_depth": stats.max_depth if tree or cell.method in ("greedy", "beam") else None,
            "mean_branching": stats.mean_branching if tree else None,
            "reward": float(result.best_reward),
            "reward_sees_truth": task.reward_sees_truth,
            "ppl": math.exp(-float(lps.mean())) if len(lps) else None,
            "length": sum(t not in eos for t in answer),
            "n_samples": len(result.samples),
            **diversity(samples),
            **task.evaluate(text, inst.public, inst.truth),
            "answer": text[:ANSWER_CHARS],
            "answer_tokens": [int(t) for t in answer],
        }
        if self.save_trees:
            from mctd_eval.trees import FILES_KEY, lm_files

            files = lm_files(cell.key, result, problem, lm.decode, params, cell.method)
            row.update({FILES_KEY: files} if files else {})
        return clean(row)


class CellWorker:
    """A configuration's family runner with what it needs loaded: a `CellRunner` and its model
    (``lm``: one already loaded in this process, else loaded from ``cfg.backend``/``cfg.model``),
    a `DiffusionRunner` (a denoiser), a `MazeRunner` (planners) or a `DigitsRunner` (VAE, UNet and
    classifier). The local executor calls it
    in-process; the Ray executor holds one per actor (one model per actor)."""

    def __init__(
        self,
        identity: dict[str, Any],
        threads: int | None = None,
        progress: bool = True,
        save_trees: bool = False,
        lm: Any = None,
    ) -> None:
        cfg = RunConfig.from_identity(identity)
        self.runner: CellRunner | DiffusionRunner | MazeRunner | DigitsRunner
        if cfg.family == "image":
            from mctd_eval.digits import DigitsRunner

            self.lm = None
            self.runner = DigitsRunner(cfg, threads)
        elif cfg.family == "maze":
            from mctd_eval.maze import MazeRunner

            self.lm = None
            self.runner = MazeRunner(cfg, threads)
        elif cfg.family == "diffusion":
            from mctd_eval.diffusion import DiffusionRunner

            self.lm = None
            self.runner = DiffusionRunner(cfg, threads)
        else:
            # ``lm``: a model already loaded in this process (mctd_eval.evaluate)
            self.lm = lm or load_lm(cfg.backend, cfg.model, threads=threads, progress=progress)
            self.runner = CellRunner(self.lm, cfg)
        self.runner.save_trees = save_trees

    def ready(self) -> bool:
        return True

    def run(self, cell: dict[str, Any]) -> dict[str, Any]:
        return self.runner.run(Cell(**cell))


def completion_tokens(problem: Any, state: Any) -> tuple[int, ...]:
    """A finished state's answer tokens as an AR decode ends them: through the first EOS or the
    token completing a stop string. A token problem's states end there already; an unmasking
    problem's (``completion_tokens``) hold the whole answer window, tokens past the EOS too."""
    cut = getattr(problem, "completion_tokens", None)
    return tuple(int(t) for t in (cut(state) if cut is not None else state))


def base_row(cell: Cell, label: str, nfe: int, calls: int, wall_s: float) -> dict[str, Any]:
    """The columns every family's row starts with: the cell, its label and the compute spent."""
    return {
        "key": cell.key,
        "task": cell.task,
        "prompt": cell.prompt,
        "label": label,
        "method": cell.method,
        "budget": cell.budget,
        "seed": cell.seed,
        "nfe": nfe,
        "calls": calls,
        "wall_s": wall_s,
    }


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """Non-finite floats become None (strict JSON); numpy scalars become Python numbers."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if hasattr(v, "item") and not isinstance(v, str):
            v = v.item()
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        out[k] = v
    return out
