"""``--backend mlx`` (the 'mlx' extra): the same answers and counters as torch on the tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import tiny_chat_lm
from mctd_chat.engine import Engine
from mctd_chat.settings import Settings

pytestmark = pytest.mark.mlx

MSGS = [{"role": "user", "content": "give me json"}]


@pytest.mark.parametrize(
    "settings",
    [
        Settings(max_tokens=12),
        Settings(method="maxent_ts", budget=100, reward="json", max_tokens=6),
    ],
)
def test_mlx_matches_torch(tiny_dir: Path, settings: Settings) -> None:
    pytest.importorskip("mctd_llm_mlx", reason="mctd-chat's 'mlx' extra is not installed")
    from mctd_chat.backends import load_lm

    mlx_answer = Engine(load_lm(str(tiny_dir), backend="mlx", progress=False)).reply(MSGS, settings)
    torch_answer = Engine(tiny_chat_lm()).reply(MSGS, settings)
    assert mlx_answer.text == torch_answer.text
    assert mlx_answer.cost.nfe == torch_answer.cost.nfe
