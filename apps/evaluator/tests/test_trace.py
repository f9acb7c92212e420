"""The path from ``mctd-eval run`` to the model's forward pass, as the README lists it: the
stack at a forward pass of the search (not of the task's reward) holds the CLI, the local
executor, the family runner and the method registry, then the tree search; no other evaluator
module, and none twice."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

import pytest

EVALUATOR_PATH = ["cli.py", "execute.py", "runner.py", "methods.py"]


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


def test_run_reaches_the_forward_pass_through_four_evaluator_files(
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
