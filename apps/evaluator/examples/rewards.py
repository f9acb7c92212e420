"""An example reward for `prompts.reward=python:examples/rewards.py:closeness`: partial credit for
a near miss, so the search has a gradient; success stays the exact `number` metric."""

from __future__ import annotations

import math
import re


def closeness(completion: str, answer: float) -> float:
    """exp(-|x - answer| / max(1, |answer|)) for the last number x written; 0 without a number."""
    found = re.findall(r"-?\d+(?:\.\d+)?", completion.replace(",", ""))
    if not found:
        return 0.0
    x = float(found[-1])
    return math.exp(-abs(x - float(answer)) / max(1.0, abs(float(answer))))
