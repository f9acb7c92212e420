"""A catalogue of bad inputs to ``mctd-eval``: each exits 2 with one line naming the bad value,
and leaves the run directory (absent, foreign, finished or locked) exactly as it was."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mctd_tree.files import RunLock
from mctd_tree.testing import cli_text as _text
from mctd_tree.testing import snapshot

TOY = ["run", "--backend", "toy", "--no-progress", "--no-figures", "--tasks", "arith"]
TOY += ["--budgets", "60", "--prompts", "1"]
GMM = ["run", "--tasks", "gmm2d", "--budgets", "40", "--seeds", "0", "--no-progress"]
GMM += ["--no-figures", "--methods", "best_of_n"]
GMM += ["--set", "gmm2d.num_steps=10", "--set", "gmm2d.branch_every=5", "--set", "gmm2d.n_out=8"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished tiny gmm2d run (exact denoiser, one cell)."""
    from mctd_eval.cli import app
    from typer.testing import CliRunner

    out = tmp_path_factory.mktemp("finished") / "run"
    res = CliRunner().invoke(app, [*GMM, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


Setup = Callable[[Path, Path], Path]


def _absent(tmp: Path, run: Path) -> Path:
    return tmp / "run"


def _copy(tmp: Path, run: Path) -> Path:
    return Path(shutil.copytree(run, tmp / "run"))


def _file(tmp: Path, run: Path) -> Path:
    (tmp / "run").write_text("not a directory\n")
    return tmp / "run"


def _files(**files: str) -> Setup:
    def make(tmp: Path, run: Path) -> Path:
        (tmp / "run").mkdir()
        for name, text in files.items():
            (tmp / "run" / name.replace("_", ".")).write_text(text)
        return tmp / "run"

    return make


def _model_dir(**files: str) -> Setup:
    """An absent run directory; ``tmp/model`` holds ``files`` (a would-be model folder)."""

    def make(tmp: Path, run: Path) -> Path:
        (tmp / "model").mkdir()
        for name, text in files.items():
            (tmp / "model" / name.replace("_", ".")).write_text(text)
        return tmp / "run"

    return make


TRAIN_CFG = json.dumps({"job": "gmm2d", "steps": 4})
# (id, setup, args (OUT = the run directory, TMP = the test's folder), text the message must hold)
CASES: list[tuple[str, Setup, list[str], str]] = [
    ("temperature-word", _absent, [*TOY, "--set", "temperature=abc"], "got 'abc'"),
    ("temperature-neg", _absent, [*TOY, "--set", "temperature=-1"], "got -1"),
    ("temperature-nan", _absent, [*TOY, "--set", "temperature=NaN"], "got nan"),
    ("top-p-word", _absent, [*TOY, "--set", "top_p=x"], "got 'x'"),
    ("top-p-zero", _absent, [*TOY, "--set", "top_p=0"], "got 0"),
    ("chunk-zero", _absent, [*TOY, "--set", "chunk=0"], "got 0"),
    (
        "mcts-c-word",
        _absent,
        [*TOY, "--set", "mcts.c=abc"],
        "mcts.c must be a finite number, got 'abc'",
    ),
    ("mcts-k-zero", _absent, [*TOY, "--set", "mcts.k=0"], "k must be an integer >= 1, got 0"),
    ("mcts-parallel-zero", _absent, [*TOY, "--set", "mcts.parallel=0"], "got 0"),
    ("mcts-selection", _absent, [*TOY, "--set", "mcts.selection=bogus"], "got 'bogus'"),
    ("mcts-unknown-param", _absent, [*TOY, "--set", "mcts.depth=3"], "depth"),
    ("dts-lam-neg", _absent, [*TOY, "--set", "dts.lam=-1"], "got -1"),
    ("maxent-k-float", _absent, [*TOY, "--set", "maxent_ts.k=2.5"], "got 2.5"),
    ("best-of-n-batch", _absent, [*TOY, "--set", "best_of_n.batch=none"], "got 'none'"),
    ("unknown-setting", _absent, [*TOY, "--set", "colour=red"], "'colour'"),
    ("set-no-equals", _absent, [*TOY, "--set", "temperature"], "'temperature'"),
    ("unknown-task", _absent, [*TOY, "--tasks", "poetry"], "'poetry'"),
    ("unknown-method", _absent, [*TOY, "--methods", "a_star"], "'a_star'"),
    ("budget-zero", _absent, [*TOY, "--budgets", "0"], "[0]"),
    ("budget-word", _absent, [*TOY, "--budgets", "ten"], "'ten'"),
    ("prompts-zero", _absent, [*TOY, "--prompts", "0"], "got 0"),
    ("seeds-word", _absent, [*TOY, "--seeds", "x"], "'x'"),
    ("unknown-preset", _absent, [*TOY, "--preset", "huge"], "'huge'"),
    ("unknown-executor", _absent, [*TOY, "--executor", "spark"], "'spark'"),
    ("unknown-backend", _absent, [*TOY, "--backend", "jax"], "'jax'"),
    ("workers-zero", _absent, [*TOY, "--workers", "0"], "got 0"),
    ("toy-model", _absent, [*TOY, "--model", "gpt2"], "'gpt2'"),
    (
        "path-like-model",
        _absent,
        [*TOY, "--backend", "torch", "--model", "my-local-modle"],
        "'my-local-modle'",
    ),
    (
        "empty-model-dir",
        _model_dir(),
        [*TOY, "--backend", "torch", "--model", "TMP/model"],
        "TMP/model holds no config.json",
    ),
    (
        "garbage-model-config",
        _model_dir(config_json="{garbage"),
        [*TOY, "--backend", "torch", "--model", "TMP/model"],
        "TMP/model",
    ),
    ("gmm2d-missing-model", _absent, [*GMM, "--model", "TMP/nowhere"], "TMP/nowhere"),
    (
        "gmm2d-train-garbage",
        _model_dir(config_json="[1"),
        [*GMM, "--model", "TMP/model"],
        "TMP/model/config.json",
    ),
    (
        "gmm2d-alpha-word",
        _absent,
        [*GMM, "--methods", "dts", "--set", "dts.alpha=abc"],
        "got 'abc'",
    ),
    ("gmm2d-mlx", _absent, [*GMM, "--backend", "mlx"], "--backend mlx"),
    ("gmm2d-lm-method", _absent, [*GMM, "--methods", "beam"], "'beam'"),
    ("out-is-a-file", _file, [*GMM], "OUT exists and is not a directory"),
    ("other-config", _copy, [*GMM[:6], "0,1", *GMM[7:]], "differs in: seeds"),
    ("config-5", _files(config_json='{"config": 5}'), [*GMM], "its config is '5'"),
    ("config-garbage", _files(config_json="{oops"), [*GMM], "OUT/config.json is not valid JSON"),
    ("config-list", _files(config_json="[1, 2]"), [*GMM], "OUT/config.json"),
    ("train-dir", _files(config_json=TRAIN_CFG), [*GMM], "job 'gmm2d'"),
    (
        "results-no-config",
        _files(results_jsonl="{}\n"),
        [*GMM],
        "holds results.jsonl but no config.json",
    ),
    ("report-missing", _absent, ["report"], "OUT is not a directory"),
    ("report-file", _file, ["report"], "OUT is not a directory"),
    ("report-train-dir", _files(config_json=TRAIN_CFG), ["report"], "job 'gmm2d'"),
    ("report-config-5", _files(config_json='{"config": 5}'), ["report"], "its config is '5'"),
    ("report-no-config", _files(results_jsonl=""), ["report"], "OUT has no config.json"),
    (
        "report-bad-config",
        _files(config_json='{"config": {"tasks": 3}}'),
        ["report"],
        "cannot be read",
    ),
    ("compare-missing", _absent, ["compare", "OUT", "TMP/other"], "OUT"),
]


def _args(args: list[str], out: Path, tmp: Path) -> list[str]:
    subst = [a.replace("TMP", str(tmp)) for a in args]
    if subst[0] == "run" and "OUT" not in subst:
        subst += ["--out", "OUT"]
    if subst[0] == "report":
        subst += ["OUT"]
    return [a.replace("OUT", str(out)) for a in subst]


@pytest.mark.parametrize(
    ("setup", "args", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_exits_2_names_it_and_changes_nothing(
    tmp_path: Path, finished: Path, setup: Setup, args: list[str], needle: str, cli: Callable
) -> None:
    out = setup(tmp_path, finished)
    before = snapshot(out)
    res = cli(*_args(args, out, tmp_path))
    text = _text(res.output)
    assert res.exit_code == 2, res.output
    assert needle.replace("OUT", str(out)).replace("TMP", str(tmp_path)) in text, text
    assert "Traceback" not in res.output
    assert snapshot(out) == before


@pytest.mark.parametrize("command", ["run", "report"])
def test_a_locked_run_directory_names_its_holder(
    tmp_path: Path, finished: Path, command: str, cli: Callable
) -> None:
    out = _copy(tmp_path, finished)
    with RunLock(out, "another mctd-eval"):
        before = snapshot(out)
        res = cli(
            *(GMM if command == "run" else ["report"]),
            *(["--out"] if command == "run" else []),
            out,
        )
        assert res.exit_code == 2, res.output
        assert f"in use by process {os.getpid()} (another mctd-eval" in _text(res.output)
        assert snapshot(out) == before


def test_an_internal_error_asks_for_a_bug_report_and_saves_the_traceback(
    tmp_path: Path, finished: Path, monkeypatch: pytest.MonkeyPatch, cli: Callable
) -> None:
    import mctd_eval.execute as execute

    def boom(*a: object, **k: object) -> None:
        raise KeyError("not a user error")

    monkeypatch.setattr(execute, "write_figures", boom)
    out = _copy(tmp_path, finished)
    res = cli("report", out)
    assert res.exit_code == 70 and "This is a bug in mctd" in res.output
    (crash,) = out.glob("crash-*.txt")
    assert "KeyError: 'not a user error'" in crash.read_text()
