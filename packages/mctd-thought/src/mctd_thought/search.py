"""Search over unmasking: mctd-tree's DTS, DTS*, MCTS and best-of-N on a masked-diffusion LM.

A node is a partially unmasked answer (a tuple of token ids, [MASK] where still masked); the
root is all [MASK]; a node is terminal when no mask is left. An edge is one denoising step of the
low-confidence sampler (semi-AR blocks of ``block``, ``per_step`` tokens committed per step,
tokens drawn at ``temperature``): ``sample`` draws it (one batched forward for all nodes),
``propose`` enumerates k distinct steps for MCTS (the most confident position takes each of its
top-k tokens, the other committed positions their argmax), ``rollout`` runs the sampler to the
end and scores the decoded answer with ``reward``. An edge's log-prior is log q of the tokens it
commits (q = softmax(logits / T)). Action ids intern the child state, so two draws that commit
the same tokens are the same child.

Counters count every forward (positions computed, and calls), rollouts included; pass
``counters`` to share a model's counters with a harness.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from mctd_tree.protocols import Child, Counters, Proposals, Reward, Rollout

from mctd_thought.model import MaskedDiffusionLM
from mctd_thought.sampling import DecodeConfig, Decoder
from mctd_thought.stack import ThoughtStack

State = tuple[int, ...]


def finish(
    toks: Sequence[int],
    eos_id: int | None,
    stops: Sequence[str],
    decode: Callable[[list[int]], str],
) -> tuple[int, str]:
    """(tokens kept, finish reason) of a finished answer, as an AR decode would have stopped:
    through the first EOS (``eos``) or the token whose text completes the first stop string
    (``stop``), whichever comes first; else all of them (``length``)."""
    for i, t in enumerate(toks):
        if t == eos_id:
            return i + 1, "eos"
        if stops and any(s in decode(list(toks[: i + 1])) for s in stops):
            return i + 1, "stop"
    return len(toks), "length"


class UnmaskProblem:
    """A `SamplingProblem` and `EnumerableProblem` over the unmasking steps of one prompt."""

    def __init__(
        self,
        model: MaskedDiffusionLM,
        prompt_ids: Sequence[int],
        reward: Reward[str],
        decode: Callable[[list[int]], str],
        *,
        answer_len: int = 32,
        block: int = 0,
        per_step: int = 1,
        temperature: float = 1.0,
        stack: ThoughtStack | None = None,
        eos_id: int | None = None,
        stop: Sequence[str] = (),
        counters: Counters | None = None,
    ) -> None:
        prompt = tuple(int(t) for t in prompt_ids)
        if not prompt:
            raise ValueError("empty prompt: UnmaskProblem needs at least one prompt token")
        block = block or answer_len
        if per_step < 1 or block % per_step:
            raise ValueError(f"per_step must be >= 1 and divide the block of {block}")
        self.cfg = DecodeConfig(
            len(prompt) + answer_len,
            "low_confidence",
            block=block,
            steps=answer_len // per_step,
            temperature=temperature,
        )
        self.cfg.plan(len(prompt), model.cfg.max_seq_len)  # validate now
        self.model, self.prompt, self.reward, self.decode = model, prompt, reward, decode
        self.answer_len, self.per_step, self.temperature = answer_len, per_step, temperature
        self.stack, self.eos_id = stack, eos_id
        self.stop = (stop,) if isinstance(stop, str) else tuple(stop)
        self.counters = counters if counters is not None else Counters()
        self._ids: dict[State, int] = {}
        self._states: list[State] = []

    # ------------------------------------------------------------------ helpers
    def _decoder(self, rng: np.random.Generator | None) -> Decoder:
        gen = torch.Generator().manual_seed(int(rng.integers(2**62))) if rng is not None else None
        stack = None
        if self.stack is not None:
            stack = self.stack  # one row; rows are broadcast in _batch
        return Decoder(
            self.model,
            self.cfg,
            len(self.prompt),
            stack=stack,
            counters=self.counters,
            generator=gen,
        )

    def _batch(self, states: Sequence[State], dec: Decoder) -> torch.Tensor:
        if dec.stack is not None and dec.stack.cells.shape[0] != len(states):
            idx = torch.zeros(len(states), dtype=torch.long)
            dec.stack = self.stack.rows(idx) if self.stack is not None else None
        return torch.tensor([self.prompt + tuple(s) for s in states], dtype=torch.long)

    def _action(self, state: State) -> int:
        aid = self._ids.get(state)
        if aid is None:
            aid = self._ids[state] = len(self._states)
            self._states.append(state)
        return aid

    def _answer(self, row: torch.Tensor) -> State:
        return tuple(int(v) for v in row[len(self.prompt) :])

    def text(self, state: State) -> str:
        """The decoded answer, cut at the first EOS and before the first stop string (masks
        dropped)."""
        toks = [t for t in state if t != self.model.mask_id]
        if self.eos_id is not None and self.eos_id in toks:
            toks = toks[: toks.index(self.eos_id)]
        text = self.decode(toks)
        for s in self.stop:
            at = text.find(s)
            text = text[:at] if at >= 0 else text
        return text

    def completion_tokens(self, state: State) -> State:
        """The answer's tokens as an AR model's finished state holds them: cut by `finish`
        (through the first EOS or the token completing a stop string); a state holds the whole
        answer window, tokens past the EOS included."""
        end, _ = finish(state, self.eos_id, self.stop, self.decode)
        return tuple(state[:end])

    def completion_text(self, state: State) -> str:
        """`text` (the name `TokenSearchProblem` uses, so harnesses read both alike)."""
        return self.text(state)

    # ------------------------------------------------------------------ protocol
    @property
    def distribution(self) -> str:
        return f"low-confidence unmasking, {self.per_step}/step, T={self.temperature:g}"

    def root(self) -> State:
        return (self.model.mask_id,) * self.answer_len

    def is_terminal(self, state: State) -> bool:
        return self.model.mask_id not in state

    def _live(self, states: Sequence[State]) -> None:
        for s in states:
            if self.is_terminal(s):
                raise ValueError("cannot expand a terminal state (no mask left)")

    def sample(self, states: Sequence[State], rng: np.random.Generator) -> list[Child[Any]]:
        """One sampled unmasking step per state (one batched forward)."""
        self._live(states)
        if not states:
            return []
        dec = self._decoder(rng)
        x, logq = dec.step(self._batch(states, dec))
        out = []
        for i in range(len(states)):
            child = self._answer(x[i])
            out.append(Child(self._action(child), child, float(logq[i])))
        return out

    def propose(self, states: Sequence[State], k: int) -> list[Proposals]:
        """k distinct steps per state: the most confident masked position of the block takes
        each of its top-k tokens (by log q), the other ``per_step - 1`` committed positions their
        argmax; log-prior = sum of log q of the committed tokens."""
        self._live(states)
        if not states:
            return []
        dec = self._decoder(None)
        x = self._batch(states, dec)
        with torch.no_grad():
            mems = dec.mems(torch.arange(len(states))) if dec.stack is not None else None
            logits = self.model(x, mems=mems).float()
        dec._count(1, x.numel(), len(states))
        temp = self.temperature if self.temperature > 0 else 1.0
        logq = torch.log_softmax(logits / temp, -1)
        conf = torch.log_softmax(logits, -1).max(-1).values
        allowed = dec._allowed(x) & (x == self.model.mask_id)
        conf = torch.where(allowed, conf, torch.full_like(conf, -math.inf))
        out = []
        for i in range(len(states)):
            n = min(self.per_step, int(allowed[i].sum()))
            pos = conf[i].topk(n).indices
            first, rest = int(pos[0]), pos[1:]
            base = x[i].clone()
            base[rest] = logq[i, rest].argmax(-1)
            base_lq = float(logq[i, rest].max(-1).values.sum()) if len(rest) else 0.0
            top = logq[i, first].topk(min(k, logq.shape[-1]))
            actions, priors = [], []
            for tok, lq in zip(top.indices.tolist(), top.values.tolist(), strict=True):
                child = base.clone()
                child[first] = tok
                actions.append(self._action(self._answer(child)))
                priors.append(base_lq + lq)
            out.append(Proposals(np.array(actions), np.array(priors)))
        return out

    def step(self, states: Sequence[State], actions: Sequence[int]) -> list[State]:
        """The interned child states (no model work)."""
        return [self._states[int(a)] for a in actions]

    def rollout(self, states: Sequence[State], rng: np.random.Generator) -> list[Rollout[Any]]:
        """Run the sampler to the end from every state (batched); score the decoded answers."""
        paths: list[list[Child[Any]]] = [[] for _ in states]
        x = None
        live = [i for i, s in enumerate(states) if not self.is_terminal(s)]
        finals = list(states)
        if live:
            dec = self._decoder(rng)
            x = self._batch([states[i] for i in live], dec)
            while bool((x == self.model.mask_id).any()):
                before = (x == self.model.mask_id).any(-1)
                x, logq = dec.step(x)
                for j in before.nonzero()[:, 0].tolist():
                    child = self._answer(x[j])
                    paths[live[j]].append(Child(self._action(child), child, float(logq[j])))
            for j, i in enumerate(live):
                finals[i] = self._answer(x[j])
        texts = [self.text(s) for s in finals]
        rewards = np.asarray(self.reward(texts), dtype=np.float64).reshape(-1)
        if rewards.shape != (len(texts),) or bool(np.isnan(rewards).any()):
            raise ValueError(f"reward must return one non-NaN float per text, got {rewards!r}")
        return [
            Rollout(p, float(r), s, {"text": t})
            for p, r, s, t in zip(paths, rewards, finals, texts, strict=True)
        ]


class KeywordReward:
    """Fraction of ``words`` that start a word of the text (case-insensitive), minus
    ``length_weight`` x |words in text - target_words| / target_words (0: no length term)."""

    def __init__(
        self, words: Sequence[str], *, target_words: int = 0, length_weight: float = 0.0
    ) -> None:
        if not words:
            raise ValueError("KeywordReward needs at least one word")
        self.words = tuple(w.lower() for w in words)
        self.target, self.length_weight = target_words, length_weight

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        out = []
        for t in texts:
            low = t.lower()
            hits = sum(bool(re.search(rf"\b{re.escape(w)}", low)) for w in self.words)
            r = hits / len(self.words)
            if self.length_weight and self.target:
                r -= self.length_weight * abs(len(t.split()) - self.target) / self.target
            out.append(r)
        return np.array(out, dtype=np.float64)
