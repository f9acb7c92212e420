"""Token-level search over any `LanguageModel`: a node is a completion prefix, an edge a token.

`TokenSearchProblem` turns a language model, a prompt and a `Reward` on completion text into a
problem every mctd search can run:

- as a ``SamplingProblem`` (DTS, DTS*, best-of-N): ``sample`` draws the next edge from p_theta;
- as an ``EnumerableProblem`` (MCTS, MaxEnt-TS, greedy, beam): ``propose`` lists the top-k
  distinct next tokens with their log-probabilities, ``step`` appends one (free);
- ``rollout`` completes states with one batched ``lm.generate`` and scores the decoded completion.

States are tuples of completion token ids (the prompt is never part of a state, a reward never
sees it, and the length limit counts completion tokens only). A state is terminal when it ends in
an EOS token, its text contains a stop string, or it holds ``max_new_tokens`` tokens.

With ``chunk = m > 1`` an edge is a chunk of up to m tokens (coarse branching: the tree is m times
shallower for the same text). ``propose`` then takes the top-k distinct *first* tokens and extends
each greedily (temperature 0) to m tokens in one batched ``generate`` call; the chunk's log-prior is
the sum of its tokens' log p_theta. This keeps proposals distinct and deterministic (``propose``
takes no random generator). ``sample`` draws all m tokens from the sampling distribution. A chunk
ends early at EOS, a stop string or the length limit. Chunk actions are small integer ids interned
by the problem (``chunk_tokens(action)`` gives the tokens back).

One distribution q for everything: ``sample`` and ``rollout`` draw from q, and every log-prior
(``propose``, sampled edges, rollout edges, chunks) is log q. q is p_theta itself at temperature 1
and top-p 1, else p_theta tempered by ``temperature`` and cut to its top-p nucleus (temperature 0:
the argmax, log q = 0). So MaxEnt-TS weights children by the distribution its rollouts follow, and
DTS's target is q·exp(lam·r)/Z; `distribution` names q (the evaluator records it in each row).

``rollout`` and ``sample`` make one batched ``generate`` call with a cap per row (ragged). Stop
strings are checked on the whole completion text, so one that starts in the state and ends in the
generated tokens ends the edge there (the tokens drawn past it are cut; their work stays counted).

Counters mirror the language model's (``nfe`` = positions processed, ``calls`` = forward calls).

Sampling (`sample_from_logprobs`, `process_logprobs`, `check_sampling`) lives in
`mctd_tree.lm.sampling`, the one rule every backend uses; the names are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mctd_tree.lm.sampling import (
    check_sampling,
    process_logprobs,
    sample_from_logprobs,
    sample_tokens,
)
from mctd_tree.protocols import (
    Child,
    Counters,
    Generation,
    LanguageModel,
    Proposals,
    Reward,
    Rollout,
)

TokenState = tuple[int, ...]

__all__ = [
    "TokenSearchProblem",
    "TokenState",
    "check_sampling",
    "process_logprobs",
    "sample_from_logprobs",
    "sample_tokens",
]


class TokenSearchProblem:
    """Search over completions of ``prompt_ids`` by ``lm``, scored by ``reward`` on their text.

    ``k``: the most children ``propose`` enumerates (the algorithm's own ``k`` is capped by it);
    ``max_new_tokens``: the completion length limit; ``chunk``: tokens per edge; ``temperature``
    and ``top_p``: how ``sample`` and ``rollout`` draw; ``stop``: stop strings (the completion
    text handed to the reward is cut before the first one).
    """

    def __init__(
        self,
        lm: LanguageModel,
        prompt_ids: Sequence[int],
        reward: Reward[str],
        *,
        k: int = 8,
        max_new_tokens: int = 64,
        chunk: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        stop: Sequence[str] = (),
    ) -> None:
        prompt = tuple(int(t) for t in prompt_ids)
        if not prompt:
            raise ValueError("empty prompt: TokenSearchProblem needs at least one prompt token")
        if len(prompt) >= lm.max_context:
            raise ValueError(
                f"prompt of {len(prompt)} tokens does not fit the model's context of "
                f"{lm.max_context} tokens (it must leave room for at least one new token)"
            )
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        if not isinstance(max_new_tokens, int | np.integer) or max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {max_new_tokens!r}")
        if not isinstance(chunk, int | np.integer) or chunk < 1:
            raise ValueError(f"chunk must be an integer >= 1, got {chunk!r}")
        check_sampling(temperature, 0, top_p)
        if isinstance(stop, str):
            stop = (stop,)
        if any(not s for s in stop):
            raise ValueError("stop strings must be non-empty")
        self.lm = lm
        self.prompt = prompt
        self.reward = reward
        self.k = int(k)
        self.max_new_tokens = int(min(max_new_tokens, lm.max_context - len(prompt)))
        self.chunk = int(chunk)
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.stop = tuple(stop)
        self._eos = frozenset(int(t) for t in lm.eos_token_ids)
        self._chunk_ids: dict[tuple[int, ...], int] = {}
        self._chunks: list[tuple[int, ...]] = []
        self._greedy_rng = np.random.default_rng(0)  # never drawn from: temperature 0
        self._raw = self.temperature == 1.0 and self.top_p == 1.0

    @property
    def distribution(self) -> str:
        """The distribution q every draw and log-prior uses (see the module docstring)."""
        if self._raw:
            return "p_theta"
        return f"p_theta at temperature {self.temperature:g}, top-p {self.top_p:g}"

    def log_q(self, logprobs: np.ndarray) -> np.ndarray:
        """log q for rows of raw next-token log-probs (B, V), float64; -inf outside q's support."""
        lp = np.asarray(logprobs, dtype=np.float64)
        if self._raw:
            return lp
        if self.temperature == 0:
            out = np.full(lp.shape, -np.inf)
            out[np.arange(lp.shape[0]), np.argmax(lp, axis=1)] = 0.0
            return out
        with np.errstate(divide="ignore"):
            return np.log(process_logprobs(lp, self.temperature, 0, self.top_p))

    # ------------------------------------------------------------------ protocol
    @property
    def counters(self) -> Counters:
        """The language model's counters (positions processed, forward calls)."""
        return self.lm.counters

    def root(self) -> TokenState:
        return ()

    def is_terminal(self, state: TokenState) -> bool:
        if len(state) >= self.max_new_tokens:
            return True
        if state and state[-1] in self._eos:
            return True
        return bool(self.stop) and self._has_stop(state)

    def sample(self, states: Sequence[TokenState], rng: np.random.Generator) -> list[Child[Any]]:
        """Draw one edge (a token, or a chunk of up to ``chunk`` tokens) per state."""
        self._check_live(states)
        caps = [min(self.chunk, self.max_new_tokens - len(s)) for s in states]
        gens = self._generate(states, caps, rng, self.temperature, self.top_p)
        out: list[Child[Any]] = []
        for s, g in zip(states, gens, strict=True):
            toks = tuple(g.tokens)
            out.append(Child(self._action(toks), s + toks, float(np.sum(self._lq(g)))))
        return out

    def propose(self, states: Sequence[TokenState], k: int) -> list[Proposals]:
        """Top-k distinct next tokens (or greedy chunks starting with them) with log p_theta."""
        if not isinstance(k, int | np.integer) or k < 1:
            raise ValueError(f"k must be an integer >= 1, got {k!r}")
        self._check_live(states)
        if not states:
            return []
        k = min(int(k), self.k)
        lp = self.log_q(self.lm.next_logprobs([self.prompt + s for s in states]))
        firsts: list[np.ndarray] = []
        for row in lp:
            kk = min(k, row.shape[0])
            top = np.argpartition(-row, kk - 1)[:kk]
            top = top[np.isfinite(row[top])]
            order = np.lexsort((top, -row[top]))  # by log-prob, ties by token id
            firsts.append(top[order].astype(np.int64))
        if self.chunk == 1:
            return [Proposals(f, lp[i, f]) for i, f in enumerate(firsts)]
        # Chunks: extend every first token greedily, all in one batched call.
        starts: list[TokenState] = []
        caps: list[int] = []
        for s, f in zip(states, firsts, strict=True):
            for a in f:
                starts.append((*s, int(a)))
                caps.append(min(self.chunk, self.max_new_tokens - len(s)) - 1)
        ext = self._extend_greedy(starts, caps)
        out: list[Proposals] = []
        j = 0
        for i, f in enumerate(firsts):
            actions, priors = [], []
            for a in f:
                toks, tail_lp = ext[j]
                j += 1
                actions.append(self._action((int(a), *toks)))
                priors.append(float(lp[i, a]) + tail_lp)
            out.append(Proposals(np.array(actions, np.int64), np.array(priors)))
        return out

    def step(self, states: Sequence[TokenState], actions: Sequence[int]) -> list[TokenState]:
        """Append each action's token (or chunk) to its state: no model work."""
        return [s + self.chunk_tokens(a) for s, a in zip(states, actions, strict=True)]

    def rollout(self, states: Sequence[TokenState], rng: np.random.Generator) -> list[Rollout[Any]]:
        """Complete every state with p_theta in one batched ``generate``; score the texts."""
        terminals: list[TokenState] = list(states)
        paths: list[list[Child[Any]]] = [[] for _ in states]
        infos: list[dict[str, Any]] = [{} for _ in states]
        live = [i for i, s in enumerate(states) if not self.is_terminal(s)]
        if live:
            caps = [self.max_new_tokens - len(states[i]) for i in live]
            gens = self._generate(
                [states[i] for i in live], caps, rng, self.temperature, self.top_p
            )
            for i, g in zip(live, gens, strict=True):
                terminals[i] = states[i] + tuple(g.tokens)
                paths[i] = self._edges(states[i], g)
                infos[i] = {"finish_reason": g.finish_reason, "logprobs": g.logprobs}
        texts = [self.completion_text(t) for t in terminals]
        rewards = np.asarray(self.reward(texts), dtype=np.float64).reshape(-1)
        if rewards.shape != (len(texts),):
            raise ValueError(
                f"reward returned {rewards.shape[0]} values for {len(texts)} completions"
            )
        for r, text in zip(rewards, texts, strict=True):
            if math.isnan(r):
                raise ValueError(f"reward returned NaN for the completion {text[:200]!r}")
        return [
            Rollout(p, float(r), t, info)
            for p, r, t, info in zip(paths, rewards, terminals, infos, strict=True)
        ]

    # --------------------------------------------------------------- helpers
    def prefix(self, state: TokenState) -> tuple[int, ...]:
        """Prompt plus completion: the token ids the model conditions on."""
        return self.prompt + tuple(state)

    def completion_text(self, state: TokenState) -> str:
        """The completion's text (special tokens dropped), cut before the first stop string."""
        text = self.lm.decode([t for t in state if t not in self._eos])
        for s in self.stop:
            at = text.find(s)
            if at >= 0:
                text = text[:at]
        return text

    def chunk_tokens(self, action: int) -> tuple[int, ...]:
        """The tokens of an edge: the token itself when ``chunk == 1``, else the interned chunk."""
        return (int(action),) if self.chunk == 1 else self._chunks[int(action)]

    def _action(self, toks: tuple[int, ...]) -> int:
        if self.chunk == 1:
            return toks[0]
        aid = self._chunk_ids.get(toks)
        if aid is None:
            aid = self._chunk_ids[toks] = len(self._chunks)
            self._chunks.append(toks)
        return aid

    def _edges(self, state: TokenState, g: Generation) -> list[Child[Any]]:
        """Cut a rollout into tree edges of ``chunk`` tokens, aligned at ``state``."""
        edges: list[Child[Any]] = []
        cur = state
        lq = self._lq(g)
        for j in range(0, len(g.tokens), self.chunk):
            toks = tuple(int(t) for t in g.tokens[j : j + self.chunk])
            cur = cur + toks
            edges.append(Child(self._action(toks), cur, float(np.sum(lq[j : j + self.chunk]))))
        return edges

    def _lq(self, g: Generation) -> np.ndarray:
        """log q of a generation's tokens (drawn from q by the model, so it reports them)."""
        if self._raw or g.logq is None:
            return np.asarray(g.logprobs, dtype=np.float64)
        return np.asarray(g.logq, dtype=np.float64)

    def _has_stop(self, state: TokenState) -> bool:
        text = self.lm.decode([t for t in state if t not in self._eos])
        return any(s in text for s in self.stop)

    def _check_live(self, states: Sequence[TokenState]) -> None:
        for s in states:
            if self.is_terminal(s):
                raise ValueError(f"cannot expand a terminal state (length {len(s)})")

    def _generate(
        self,
        states: Sequence[TokenState],
        caps: Sequence[int],
        rng: np.random.Generator,
        temperature: float,
        top_p: float,
    ) -> list[Generation]:
        """One ragged ``lm.generate`` call (a cap per row); each row cut at its first stop."""
        gens = self.lm.generate(
            [self.prompt + tuple(s) for s in states],
            rng,
            max_new_tokens=[int(c) for c in caps],
            temperature=temperature,
            top_p=top_p,
            stop=self.stop,
        )
        if self.stop:
            gens = [self._cut_at_stop(s, g) for s, g in zip(states, gens, strict=True)]
        return gens

    def _cut_at_stop(self, state: TokenState, g: Generation) -> Generation:
        """``g`` cut after the first token whose completion text holds a stop string (one that
        may start inside ``state``): the generation then ends at the state's first terminal."""
        toks = tuple(int(t) for t in g.tokens)
        if not self._has_stop(state + toks):
            return g
        j = next(j for j in range(1, len(toks) + 1) if self._has_stop(state + toks[:j]))
        if j == len(toks):
            return (
                g if g.finish_reason == "stop" else Generation(g.tokens, g.logprobs, "stop", g.logq)
            )
        logq = None if g.logq is None else g.logq[:j]
        return Generation(list(toks[:j]), g.logprobs[:j], "stop", logq)

    def _extend_greedy(
        self, starts: list[TokenState], caps: list[int]
    ) -> list[tuple[tuple[int, ...], float]]:
        """Greedy continuation of each start by up to its cap tokens (none if it is terminal),
        with its log q (read from the model's distributions after each fed token when q is not
        p_theta: those reads are counted)."""
        res: list[tuple[tuple[int, ...], float]] = [((), 0.0)] * len(starts)
        live = [i for i, s in enumerate(starts) if caps[i] > 0 and not self.is_terminal(s)]
        if not live:
            return res
        gens = self._generate(
            [starts[i] for i in live], [caps[i] for i in live], self._greedy_rng, 0.0, 1.0
        )
        toks = [tuple(int(t) for t in g.tokens) for g in gens]
        if self._raw:
            lqs = [float(np.sum(g.logprobs)) for g in gens]
        else:
            prefixes = [
                self.prompt + starts[i] + t[:j]
                for i, t in zip(live, toks, strict=True)
                for j in range(len(t))
            ]
            lq = self.log_q(self.lm.next_logprobs(prefixes))
            lqs, row = [], 0
            for t in toks:
                lqs.append(float(sum(lq[row + j, t[j]] for j in range(len(t)))))
                row += len(t)
        for i, t, q in zip(live, toks, lqs, strict=True):
            res[i] = (t, q)
        return res
