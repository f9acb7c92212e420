"""``arith``: seeded arithmetic questions; the reward is an exact verifier of the final number.

Instance i uses operator ``ops[i % len(ops)]`` and operand size ``digits[(i // len(ops)) %
len(digits)]`` decimal digits, operands drawn from ``default_rng([seed, i])``. The model is asked
under its chat template to answer with the number only. The verifier takes the *last* integer in
the completion (so "23 + 58 = 81" counts as 81) and returns 1.0 on an exact match, else 0.0.

This task's search reward necessarily knows the answer (it is a verifier-reward, the setting of
best-of-N with a checker): ``reward_sees_truth = True``, and the run records it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from mctd_tree.protocols import LanguageModel

from mctd_eval.tasks.base import Instance, TaskBase

_INT = re.compile(r"-?\d[\d,]*")
_OPS = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}


def final_number(text: str) -> int | None:
    """The last integer written in ``text`` (thousands commas allowed), or None."""
    found = [m.group().replace(",", "") for m in _INT.finditer(text)]
    found = [f for f in found if f not in ("", "-")]
    return int(found[-1]) if found else None


@dataclass(frozen=True)
class Question:
    a: int
    op: str
    b: int

    def text(self) -> str:
        return f"What is {self.a} {self.op} {self.b}? Answer with the number only."


class Verifier:
    """Batched exact verifier: 1.0 when the final number equals ``answer``."""

    def __init__(self, answer: int) -> None:
        self.answer = int(answer)

    def __call__(self, texts: Sequence[str], /) -> np.ndarray:
        return np.array([float(final_number(t) == self.answer) for t in texts])


@dataclass(frozen=True)
class ArithTask(TaskBase):
    name: ClassVar[str] = "arith"
    description: ClassVar[str] = (
        "Seeded arithmetic questions (+, -, * over 1-3 digit operands); reward = exact verifier "
        "of the final number (sees the answer: a verifier-reward); success = exact match."
    )
    reward_sees_truth: ClassVar[bool] = True

    ops: tuple[str, ...] = ("+", "-", "*")
    digits: tuple[int, ...] = (1, 2, 3)
    max_tokens: int = 16

    def __post_init__(self) -> None:
        object.__setattr__(self, "ops", tuple(self.ops))
        object.__setattr__(self, "digits", tuple(int(d) for d in self.digits))
        bad = [o for o in self.ops if o not in _OPS]
        if bad or not self.ops:
            raise ValueError(f"arith ops must be a non-empty subset of {list(_OPS)}, got {bad}")
        if not self.digits or any(d < 1 or d > 9 for d in self.digits):
            raise ValueError(f"arith digits must be in 1..9, got {list(self.digits)}")
        if self.max_tokens < 1:
            raise ValueError(f"arith max_tokens must be >= 1, got {self.max_tokens}")

    def instances(self, n: int) -> list[Instance]:
        out = []
        for i in range(n):
            rng = np.random.default_rng([self.seed, i])
            op = self.ops[i % len(self.ops)]
            d = self.digits[(i // len(self.ops)) % len(self.digits)]
            lo, hi = (1 if d == 1 else 10 ** (d - 1)), 10**d
            a, b = (int(v) for v in rng.integers(lo, hi, size=2))
            q = Question(a, op, b)
            out.append(Instance(i, f"{a}{op}{b}", q, int(_OPS[op](a, b))))
        return out

    def max_new_tokens(self, public: Any) -> int:
        return self.max_tokens

    def prompt_ids(self, lm: LanguageModel, public: Question) -> list[int]:
        return lm.chat_prompt([{"role": "user", "content": public.text()}])

    def search_reward(
        self, lm: LanguageModel, prompt_ids: Sequence[int], public: Any, *, verifier: Any = None
    ) -> Verifier:
        if verifier is None:
            raise ValueError("arith's reward is an exact verifier: it needs the answer")
        return Verifier(int(verifier))

    def evaluate(self, text: str, public: Any, truth: int) -> dict[str, float]:
        return {"success": float(final_number(text) == int(truth))}
