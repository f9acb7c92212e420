"""``--backend mor --model DIR``: the chat answers with a MoR LM (a tiny run made here)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mctd_chat.backends import load_lm
from mctd_chat.engine import Engine
from mctd_chat.errors import ModelError
from mctd_chat.settings import Settings
from mctd_mor.testing import save_tiny_run

MSGS = [{"role": "user", "content": "Once upon a time"}]


def test_chat_on_a_mor_run(tmp_path: Path) -> None:
    save_tiny_run(tmp_path / "run" / "model")
    lm = load_lm(str(tmp_path / "run"), backend="mor")
    engine = Engine(lm)
    greedy = engine.reply(MSGS, Settings(max_tokens=6))
    assert greedy.cost.nfe > 0 and len(greedy.tokens) <= 6
    search = engine.reply(
        MSGS, Settings(method="maxent_ts", budget=60, reward="likelihood", max_tokens=6)
    )
    assert search.cost.nfe >= 60 and len(search.tokens) <= 6


def test_bad_mor_folder_is_a_model_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_lm(str(tmp_path / "nope"), backend="mor")
    with pytest.raises(ModelError, match="no default model"):
        load_lm("default", backend="mor")
