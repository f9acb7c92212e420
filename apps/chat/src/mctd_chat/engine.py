"""One answer to a conversation: prompt under the chat template, then decoding or a search.

Measurement (the same for the terminal and the server):
- ``prompt_nfe``: positions computed to prefill the prompt (a prefix cached by an earlier turn
  costs nothing again), paid before the search so it never eats the search's budget;
- ``nfe`` / ``calls``: the model's own counters around the rest (decoding or the whole search,
  proposals, rollouts and any model work of the reward included; a decoded answer's reward,
  computed for the summary only, is not counted);
- ``greedy_nfe``: what greedy decoding spends to write an answer this long (the first
  distribution is read from the cached prompt, every generated token but the last is fed once;
  mctd-tree's counters), and ``vs_greedy = nfe / greedy_nfe``;
- ``wall_s``: the whole answer, prefill included; ``tokens_per_s`` = completion tokens / wall.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from mctd_tree import Budget
from mctd_tree.problems.tokens import TokenSearchProblem, sample_from_logprobs
from mctd_tree.protocols import LanguageModel, Reward

from mctd_chat.errors import ChatError, ContextError
from mctd_chat.live import LiveProblem, Progress
from mctd_chat.methods import Method, get_method
from mctd_chat.rewards import build_reward
from mctd_chat.settings import Settings

OnText = Callable[[str], None]
OnProgress = Callable[[Progress], None]


@dataclass
class Cost:
    """What one answer cost (see the module docstring); ``reward`` is the answer's reward."""

    method: str
    budget: int | None
    nfe: int
    prompt_nfe: int
    calls: int
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    tokens_per_s: float
    greedy_nfe: int
    vs_greedy: float
    nodes: int | None
    rollouts: int | None
    reward: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """The one-line cost summary the terminal prints under an answer."""
        parts = [
            self.method,
            f"NFE {self.nfe:,} (+{self.prompt_nfe:,} prompt)",
            f"{self.wall_s:.2f} s",
            f"{self.tokens_per_s:.1f} tok/s",
            f"{self.vs_greedy:.1f}x greedy's NFE for {self.completion_tokens} tokens",
        ]
        if self.nodes is not None:
            parts.append(f"{self.nodes} nodes")
        if self.reward is not None:
            parts.append(f"reward {self.reward:.3f}")
        return " · ".join(parts)


@dataclass
class Answer:
    text: str
    tokens: list[int]
    finish_reason: str  # "stop" (EOS or a stop string) or "length"
    cost: Cost


def plain_messages(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """Only role and content of each message (saved answers carry settings and cost too)."""
    return [{"role": str(m["role"]), "content": str(m["content"])} for m in messages]


def decode(
    lm: LanguageModel,
    prompt: Sequence[int],
    rng: np.random.Generator,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float = 1.0,
    stop: Sequence[str] = (),
    on_text: OnText | None = None,
) -> tuple[list[int], str]:
    """Decode token by token, handing each new piece of text to ``on_text`` as it comes.

    One ``next_logprobs`` call per token (the backend's prefix cache makes it feed only the new
    token) and the shared sampling rule, so the tokens and the NFE are those of one
    ``lm.generate`` call with the same rng. Returns (tokens, finish reason: eos|stop|length).
    Text is held back while it ends in a partial character or could be the start of a stop string.
    """
    eos, shown, reason = lm.eos_token_ids, "", "length"
    toks: list[int] = []
    hold = max((len(s) for s in stop), default=1) - 1
    base = tuple(int(t) for t in prompt)
    for _ in range(max_new_tokens):
        lp = lm.next_logprobs([base + tuple(toks)])
        tok = int(sample_from_logprobs(lp, rng, temperature=temperature, top_p=top_p)[0])
        toks.append(tok)
        if tok in eos:
            reason = "eos"
            break
        text = lm.decode(toks)
        if any(s in text for s in stop):
            reason = "stop"
            break
        ready = text[: len(text) - hold] if hold else text
        grown = len(ready) > len(shown) and ready.startswith(shown)
        if on_text is not None and grown and not ready.endswith("\ufffd"):
            on_text(ready[len(shown) :])
            shown = ready
    if on_text is not None:
        final = cut_at_stop(lm.decode([t for t in toks if t not in eos]), stop)
        if final.startswith(shown) and len(final) > len(shown):
            on_text(final[len(shown) :])
    return toks, reason


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    for s in stop:
        at = text.find(s)
        if at >= 0:
            text = text[:at]
    return text


@dataclass
class _Job:
    """What both ways of answering need: the prompt, the token cap, stop strings, the reward."""

    prompt: list[int]
    max_new: int
    stop: Sequence[str]
    reward: Reward[str]


@dataclass
class _Draft:
    tokens: list[int]
    text: str
    reason: str  # eos, stop or length
    reward: float
    nodes: int | None = None
    rollouts: int | None = None


def search_budget(nfe: int) -> Budget:
    """At most ``nfe`` NFE (positions processed and distributions read; mctd-tree >= 0.3 counts
    reads of cached positions, so no iteration is free and an NFE budget alone ends every
    search)."""
    return Budget(nfe=nfe)


class Engine:
    """Answers conversations with one loaded model (not thread-safe: one caller at a time)."""

    def __init__(self, lm: LanguageModel, name: str = "default") -> None:
        self.lm = lm
        self.name = name

    def prompt_ids(self, messages: Sequence[dict[str, Any]]) -> list[int]:
        """The conversation under the model's chat template, ready for the assistant's answer."""
        msgs = plain_messages(messages)
        if not msgs:
            raise ChatError("the conversation is empty: send a message first")
        try:
            return list(self.lm.chat_prompt(msgs))
        except Exception as err:  # a template error (e.g. roles it does not accept)
            raise ChatError(f"the model's chat template refused the conversation: {err}") from err

    def reply(
        self,
        messages: Sequence[dict[str, Any]],
        settings: Settings,
        *,
        stop: Sequence[str] = (),
        on_text: OnText | None = None,
        on_progress: OnProgress | None = None,
    ) -> Answer:
        """Answer ``messages`` (ending with the user's turn) under ``settings``."""
        settings.check_python()
        method = get_method(settings.method)
        if any(not s for s in stop):
            raise ChatError("stop strings must be non-empty")
        lm = self.lm
        prompt = self.prompt_ids(messages)
        if len(prompt) >= lm.max_context:
            raise ContextError(
                f"the conversation is {len(prompt)} tokens and the model's context is "
                f"{lm.max_context}: it must leave room for an answer (/reset, or shorten it)"
            )
        t0 = time.perf_counter()
        c0 = lm.counters.snapshot()
        lm.next_logprobs([prompt])
        prompt_nfe = lm.counters.since(c0).nfe
        c1 = lm.counters.snapshot()
        reward = build_reward(
            settings.reward_spec(), lm, prompt, plain_messages(messages), settings.schema
        )
        job = _Job(prompt, min(settings.max_tokens, lm.max_context - len(prompt)), stop, reward)
        if method.search is None:
            draft = self._decode(job, method, settings, on_text)
            used = lm.counters.since(c1)
            # the reward of a decoded answer is for the summary only: not decoding work
            draft.reward = float(np.asarray(job.reward([draft.text]), dtype=np.float64)[0])
        else:
            draft = self._search(job, method, settings, on_progress)
            used = lm.counters.since(c1)
        wall = time.perf_counter() - t0
        n_out = sum(t not in lm.eos_token_ids for t in draft.tokens)
        greedy_nfe = max(len(draft.tokens), 1)
        cost = Cost(
            method=method.name,
            budget=settings.budget if method.budgeted else None,
            nfe=used.nfe,
            prompt_nfe=prompt_nfe,
            calls=used.calls,
            wall_s=wall,
            prompt_tokens=len(prompt),
            completion_tokens=n_out,
            tokens_per_s=n_out / wall if wall > 0 else 0.0,
            greedy_nfe=greedy_nfe,
            vs_greedy=used.nfe / greedy_nfe,
            nodes=draft.nodes,
            rollouts=draft.rollouts,
            reward=draft.reward,
        )
        finish = "length" if draft.reason == "length" else "stop"
        return Answer(draft.text, draft.tokens, finish, cost)

    def _decode(
        self, job: _Job, method: Method, settings: Settings, on_text: OnText | None
    ) -> _Draft:
        """Greedy or sampling, streamed (the caller scores the answer for the summary)."""
        lm = self.lm
        tokens, reason = decode(
            lm,
            job.prompt,
            np.random.default_rng(settings.seed),
            max_new_tokens=job.max_new,
            temperature=0.0 if method.name == "greedy" else settings.temperature,
            top_p=settings.top_p,
            stop=job.stop,
            on_text=on_text,
        )
        text = cut_at_stop(lm.decode([t for t in tokens if t not in lm.eos_token_ids]), job.stop)
        return _Draft(tokens, text, reason, float("nan"))

    def _search(
        self, job: _Job, method: Method, settings: Settings, on_progress: OnProgress | None
    ) -> _Draft:
        """A search from mctd-tree over the token problem, reporting live progress."""
        assert method.search is not None
        problem = TokenSearchProblem(
            self.lm,
            job.prompt,
            job.reward,
            k=64,
            max_new_tokens=job.max_new,
            temperature=settings.temperature,
            top_p=settings.top_p,
            stop=job.stop,
        )
        live = LiveProblem(
            problem,
            method.name,
            budget=settings.budget if method.budgeted else None,
            tree=method.tree,
            keeps_rollouts=method.keeps_rollouts,
            on_progress=on_progress,
        )
        result = method.search(
            live, search_budget(settings.budget), np.random.default_rng(settings.seed)
        )
        tokens = [int(t) for t in (result.best_state or ())]
        reason = "length" if len(tokens) >= job.max_new else "stop"
        return _Draft(
            tokens,
            problem.completion_text(tuple(tokens)),
            reason,
            float(result.best_reward),
            result.stats.nodes if method.tree else None,
            live.rollouts,
        )
