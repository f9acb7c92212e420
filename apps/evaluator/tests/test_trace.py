"""The path from ``mctd-eval run`` to the model's forward pass, as the README lists it: the
stack at every forward pass of the search (not of the task's reward) is cli, execute, runner,
methods, then mctd-tree's algorithms, search, tokens problem, LM base (and decode loop), then the
torch backend: at most 10 files, none entered twice, no package re-entered."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

EVALUATOR_PATH = ["cli.py", "execute.py", "runner.py", "methods.py"]
# below the search: the problem, the protocol written once, the decode loop, the backend
TREE_TO_FORWARD = [
    "mctd_tree/problems/tokens.py",
    "mctd_tree/lm/base.py",
    "mctd_tree/lm/decode.py",
    "mctd_llm_torch/model.py",
]


def _project_files(stack: traceback.StackSummary) -> list[str]:
    """``package/file.py`` of each project frame, repeats of the same file joined."""
    out: list[str] = []
    for frame in stack:
        if "/src/mctd" not in frame.filename:
            continue
        short = "/".join(Path(frame.filename).parts[-2:])
        if frame.filename.split("/src/")[-1].count("/") > 1:  # a subpackage: mctd_tree/problems
            short = frame.filename.split("/src/")[-1]
        if not out or out[-1] != short:
            out.append(short)
    return out


def test_run_reaches_the_forward_pass_through_ten_files_without_going_back(
    tmp_path: Path, tiny_model_dir: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers.models.llama import modeling_llama

    stacks: list[list[str]] = []
    forward = modeling_llama.LlamaModel.forward

    def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        files = _project_files(traceback.extract_stack())
        if "mctd_tree/search.py" in files:  # the search's own calls, not the task's reward's
            below = files[files.index("mctd_tree/search.py") :]
            if not any(f.startswith("mctd_eval/") for f in below):
                stacks.append(files)
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(modeling_llama.LlamaModel, "forward", recording)
    args = ["--model", tiny_model_dir, "--tasks", "keywords", "--methods", "maxent_ts"]
    res = cli("run", *args, "--budgets", "30", "--no-progress", "--no-figures", "--out", tmp_path)
    assert res.exit_code == 0, res.output
    assert stacks, "no forward pass under the tree search"
    for files in stacks:
        evaluator = [f.split("/")[-1] for f in files if f.startswith("mctd_eval/")]
        assert evaluator == EVALUATOR_PATH, files
        assert files[len(EVALUATOR_PATH) : len(EVALUATOR_PATH) + 2] == [
            "mctd_tree/algorithms.py",
            "mctd_tree/search.py",
        ], files
        below = files[len(EVALUATOR_PATH) + 2 :]
        assert below in (
            TREE_TO_FORWARD,
            [f for f in TREE_TO_FORWARD if f != "mctd_tree/lm/decode.py"],
        ), files
        assert len(files) <= 10, files
