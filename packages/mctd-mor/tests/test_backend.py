"""The ``mor`` backend: a saved model folder loads by name through `mctd_tree.lm.backends`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from mctd_mor import MoRLM, MoRLoadError, load_model
from mctd_mor.testing import save_tiny_run
from mctd_tree.errors import UserError
from mctd_tree.lm.backends import backend_names, load_lm


def test_mor_backend_loads_a_run_and_counts(tmp_path: Path) -> None:
    save_tiny_run(tmp_path / "run" / "model")
    lm = load_lm("mor", str(tmp_path / "run"))  # a run directory: its model/ folder
    assert isinstance(lm, MoRLM) and "mor" in backend_names()
    ids = lm.encode("Once upon a time")
    assert lm.decode(ids) == "Once upon a time"
    lp = lm.next_logprobs([ids])
    model = load_model(tmp_path / "run" / "model")
    with torch.no_grad():
        want = torch.log_softmax(model(torch.tensor([ids])).logits[0, -1].float(), -1)
    np.testing.assert_allclose(lp[0], want.numpy(), atol=1e-5)
    assert 0 in lm.eos_token_ids
    assert len(ids) <= lm.counters.nfe <= 3 * len(ids) and lm.flops.total > 0


def test_mor_backend_refuses_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no default model"):
        load_lm("mor")
    with pytest.raises(MoRLoadError, match="does not exist"):
        load_lm("mor", str(tmp_path / "nope"))
    other = tmp_path / "llama"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"model_type": "llama"}))
    (other / "tokenizer.json").write_text("{}")
    with pytest.raises(MoRLoadError, match="format"):
        load_lm("mor", str(other))
    run = save_tiny_run(tmp_path / "m")
    (run / "tokenizer.json").unlink()
    with pytest.raises(MoRLoadError, match="tokenizer"):
        load_lm("mor", str(run))
