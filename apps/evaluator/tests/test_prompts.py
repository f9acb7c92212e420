"""The prompts task: a JSONL file, every built-in reward spec, a python: reward defined here, and
bad input (one-line errors naming file and line, nothing written)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mctd_eval.tasks import get_task
from mctd_eval.tasks.fluency import mean_logprob, token_logprobs
from mctd_eval.tasks.rewards import Context, PromptRow, checked_scores, parse_spec

ROWS = [
    {"prompt": "Tom has 17 apples and buys 26 more. How many?", "answer": 43, "id": "apples"},
    {"prompt": "A train goes 60 km an hour. How far in 3 hours?", "answer": "180"},
    {"prompt": "Name a colour, then count to 7.", "answer": 7, "keywords": ["red", "sky"]},
]
REWARDS = """
import math

CALLS = []

def contains(completion, answer):
    return float(str(answer) in completion)

def blind(completion, prompt, meta):
    CALLS.append((completion, prompt, dict(meta)))
    return len(completion) / 10

def boom(completion):
    return 1 / 0

def nan(completion):
    return math.nan

def late(completion):
    if completion:
        raise KeyError("late")
    return 0.0
"""


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    schema = {"type": "object", "required": ["name"]}
    (tmp_path / "schema.json").write_text(json.dumps(schema))
    (tmp_path / "rw.py").write_text(REWARDS)
    (tmp_path / "broken.py").write_text("def f(completion):\n    return (\n")
    return {
        "qs": _write(tmp_path / "qs.jsonl", ROWS),
        "schema": tmp_path / "schema.json",
        "rw": tmp_path / "rw.py",
        "broken": tmp_path / "broken.py",
    }


def _ctx(row: dict[str, Any], lm: Any = None, prompt_ids: Any = ()) -> Context:
    meta = {k: v for k, v in row.items() if k not in ("prompt", "answer")}
    return Context(PromptRow(row["prompt"], meta, "qs.jsonl:1"), row.get("answer"), lm, prompt_ids)


def test_each_builtin_reward_on_known_texts(files: dict[str, Path]) -> None:
    def score(spec: str, texts: list[str], row: dict[str, Any]) -> list[float]:
        return checked_scores(parse_spec(spec), texts, _ctx(row), "reward").tolist()

    r43 = {"prompt": "q", "answer": 43}
    assert score("number", ["He has 43 apples.", "17 + 26 = 43", "42", "", "4,3"], r43) == [
        1.0,
        1.0,
        0.0,
        0.0,
        0.0,
    ]
    assert score("number", ["4,300", "4300.0", "43e2"], {"prompt": "q", "answer": "4300"}) == [
        1.0,
        1.0,
        1.0,
    ]
    assert score("exact", [" red\n", "Red", "red!"], {"prompt": "q", "answer": "red"}) == [
        1.0,
        0.0,
        0.0,
    ]
    assert score("regex:^\\d+ km$", ["180 km", "about 180 km"], r43) == [1.0, 0.0]
    texts = ['{"name": "x"}', 'Sure: {"name": 1} done', "[1, 2]", "{name}", ""]
    assert score("json", texts, r43) == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert score(f"json:{files['schema']}", texts, r43) == [1.0, 1.0, 0.5, 0.0, 0.0]
    kw = {"prompt": "q", "keywords": ["red", "sky"]}
    assert score("keywords", ["The sky is red.", "Reddish", "blue"], kw) == [1.0, 0.5, 0.0]
    assert score(f"python:{files['rw']}:contains", ["43!", "42"], r43) == [1.0, 0.0]
    assert parse_spec("number").sees_answer and parse_spec("exact").sees_answer
    assert not any(parse_spec(s).sees_answer for s in ("regex:a", "json", "keywords", "likelihood"))
    assert parse_spec(f"python:{files['rw']}:contains").sees_answer
    assert not parse_spec(f"python:{files['rw']}:blind").sees_answer


def test_likelihood_is_the_mean_token_logprob(tiny_lm: Any) -> None:
    prompt = tiny_lm.encode("what is 2+2?")
    ctx = _ctx({"prompt": "what is 2+2?"}, tiny_lm, prompt)
    got = checked_scores(parse_spec("likelihood"), ["4", "four"], ctx, "reward")
    ids = [tiny_lm.encode("4"), tiny_lm.encode("four")]
    want = [mean_logprob(lp) for lp in token_logprobs(tiny_lm, prompt, ids)]
    np.testing.assert_allclose(got, want)
    assert all(-10 <= g < 0 for g in got)


@pytest.mark.parametrize(
    ("reward", "metric", "sees"),
    [
        ("number", None, True),
        ("exact", None, True),
        ("regex:[0-9]", None, False),
        ("json", None, False),
        ("json:{schema}", None, False),
        ("likelihood", "number", False),
        ("python:{rw}:contains", None, True),
        ("python:{rw}:blind", "exact", False),
    ],
)
def test_every_reward_runs_through_the_task(
    files: dict[str, Path],
    tmp_path: Path,
    toy_run: Any,
    reward: str,
    metric: str | None,
    sees: bool,
) -> None:
    reward = reward.format(schema=files["schema"], rw=files["rw"])
    out = tmp_path / "run"
    sets = ["--set", f"prompts.file={files['qs']}", "--set", f"prompts.reward={reward}"]
    sets += ["--set", f"prompts.metric={metric}"] if metric else []
    res = toy_run(
        out,
        "--tasks",
        "prompts",
        "--methods",
        "greedy,best_of_n",
        "--budgets",
        "30",
        "--prompts",
        "5",
        *sets,
    )
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(rows) == 6  # 3 rows in the file (--prompts 5 is capped) x 2 methods
    assert {r["label"] for r in rows} == {"apples", "qs.jsonl:2", "qs.jsonl:3"}
    for r in rows:
        assert r["reward_sees_truth"] is sees and math.isfinite(r["reward"])
        assert 0.0 <= r["score"] <= 1.0 and r["success"] == float(r["score"] >= 1.0)


def test_keywords_reward_reads_the_row_metadata(tmp_path: Path, toy_run: Any) -> None:
    qs = _write(tmp_path / "kw.jsonl", [{"prompt": "Use red and sky.", "keywords": ["a", "e"]}])
    out = tmp_path / "run"
    res = toy_run(
        out,
        "--tasks",
        "prompts",
        "--methods",
        "best_of_n",
        "--budgets",
        "60",
        "--set",
        f"prompts.file={qs}",
        "--set",
        "prompts.reward=keywords",
    )
    assert res.exit_code == 0, res.output
    row = json.loads((out / "results.jsonl").read_text())
    assert row["reward_sees_truth"] is False and row["reward"] == row["score"]


def test_a_reward_that_does_not_name_answer_never_gets_it(files: dict[str, Path]) -> None:
    task = get_task("prompts", {"file": str(files["qs"]), "reward": f"python:{files['rw']}:blind"})
    assert task.reward_sees_truth is False
    inst = task.instances(3)[2]
    reward = task.search_reward(None, [], inst.public)  # type: ignore[arg-type]
    assert reward(["abc"]).tolist() == [0.3]
    rw = parse_spec(f"python:{files['rw']}:blind")
    completion, prompt, meta = rw.fn.__globals__["CALLS"][-1]  # type: ignore[attr-defined]
    assert (completion, prompt, meta) == ("abc", ROWS[2]["prompt"], {"keywords": ["red", "sky"]})
    assert not hasattr(inst.public, "answer") and "answer" not in inst.public.meta


@pytest.mark.parametrize(
    ("lines", "sets", "message"),
    [
        ([ROWS[0], {"question": "2+2?", "answer": 4}], [], 'qs.jsonl:2: no "prompt" field'),
        ([ROWS[0], "", "{not json"], [], "qs.jsonl:3: not a JSON object"),
        ([ROWS[0], {"prompt": ""}], [], 'qs.jsonl:2: "prompt" must be a non-empty string'),
        ([ROWS[0], {"prompt": "hi"}], [], "qs.jsonl:2: reward 'number' needs an \"answer\""),
        ([{"prompt": "hi", "answer": "n/a"}], [], "qs.jsonl:1: reward 'number' needs a numeric"),
        ([{"prompt": "hi"}], ["prompts.reward=keywords"], "qs.jsonl:1: reward 'keywords' needs"),
        ([], [], "qs.jsonl: no prompts"),
        (ROWS, ["prompts.reward=bleu"], "unknown reward spec 'bleu'; valid: number, exact"),
        (ROWS, ["prompts.reward=regex:("], "reward regex '(' does not compile"),
        (ROWS, ["prompts.reward=python:no_such_mod:f"], "cannot import no_such_mod ("),
        (ROWS, ["prompts.reward=python:{broken}:f"], "broken.py:2: SyntaxError"),
        (ROWS, ["prompts.reward=python:{rw}:missing"], "rw.py has no function 'missing'"),
        (ROWS, ["prompts.reward=python:{rw}:boom"], "qs.jsonl:1: reward 'python:"),
        (ROWS, ["prompts.reward=python:{rw}:nan"], "returned nan for the completion ''"),
        (ROWS, ["prompts.metric=likelihood"], "metric 'likelihood' needs the model"),
        (ROWS, ["prompts.reward=json:{rw}"], "the JSON Schema is not JSON"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line(
    files: dict[str, Path],
    tmp_path: Path,
    toy_run: Any,
    lines: list[Any],
    sets: list[str],
    message: str,
) -> None:
    qs = _write(tmp_path / "qs.jsonl", lines) if lines != ROWS else files["qs"]
    out = tmp_path / "run"
    extra = [a for s in sets for a in ("--set", s.format(rw=files["rw"], broken=files["broken"]))]
    res = toy_run(
        out, "--tasks", "prompts", "--methods", "greedy", "--set", f"prompts.file={qs}", *extra
    )
    assert res.exit_code == 2, res.output
    assert message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert not out.exists()


def test_a_raise_during_the_search_names_file_line_and_code(
    files: dict[str, Path], toy_run: Any, tmp_path: Path
) -> None:
    """`late` passes the empty-completion probe, then raises on the first real text."""
    out = tmp_path / "run"
    res = toy_run(
        out,
        "--tasks",
        "prompts",
        "--methods",
        "best_of_n",
        "--budgets",
        "30",
        "--set",
        f"prompts.file={files['qs']}",
        "--set",
        f"prompts.reward=python:{files['rw']}:late",
    )
    assert res.exit_code == 2, res.output
    line = res.output.strip()
    assert f"{files['qs']}:1: reward 'python:{files['rw']}:late' raised KeyError: 'late'" in line
    raised = REWARDS.splitlines().index('        raise KeyError("late")') + 1
    assert f"(at {files['rw']}:{raised})" in line and len(line.splitlines()) == 1
    assert not (out / "results.jsonl").exists()  # no row for the failed cell


def test_a_changed_file_is_not_resumed(
    files: dict[str, Path], toy_run: Any, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    args = ["--tasks", "prompts", "--methods", "greedy", "--set", f"prompts.file={files['qs']}"]
    assert toy_run(out, *args).exit_code == 0
    _write(files["qs"], [*ROWS, {"prompt": "One more?", "answer": 1}])
    res = toy_run(out, *args)
    assert res.exit_code == 2 and "another configuration" in res.output
