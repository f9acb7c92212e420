"""A catalogue of bad inputs to ``mctd-train``: each exits 2 with one line naming the bad value,
and leaves the run directory (absent, foreign, finished or locked) exactly as it was."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from mctd_trainer import checkpoints
from mctd_trainer.cli import app
from mctd_tree.files import RunLock
from mctd_tree.testing import cli_text as _text
from mctd_tree.testing import snapshot
from typer.testing import CliRunner

GMM = ["--steps", "4", "--ckpt-every", "2", "--batch-size", "16", "--eval-samples", "10"]
MAZE = ["--maze", "medium", "--d-model", "16", "--layers", "1", "--heads", "2", "--ckpt-every", "2"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A finished tiny gmm2d run (step 4) and a tiny maze run (step 2)."""
    root = tmp_path_factory.mktemp("finished")
    runner = CliRunner()
    res = runner.invoke(app, ["gmm2d", *GMM, "--out", str(root / "gmm2d")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["maze", *MAZE, "--steps", "2", "--out", str(root / "maze")])
    assert res.exit_code == 0, res.output
    return {"gmm2d": root / "gmm2d", "maze": root / "maze"}


def _copy(kind: str) -> Callable[[Path, dict[str, Path]], Path]:
    def make(tmp: Path, runs: dict[str, Path]) -> Path:
        return Path(shutil.copytree(runs[kind], tmp / "run"))

    return make


def _absent(tmp: Path, runs: dict[str, Path]) -> Path:
    return tmp / "run"


def _file(tmp: Path, runs: dict[str, Path]) -> Path:
    (tmp / "run").write_text("not a directory\n")
    return tmp / "run"


def _config(text: str) -> Callable[[Path, dict[str, Path]], Path]:
    def make(tmp: Path, runs: dict[str, Path]) -> Path:
        (tmp / "run").mkdir()
        (tmp / "run" / "config.json").write_text(text)
        return tmp / "run"

    return make


def _empty(tmp: Path, runs: dict[str, Path]) -> Path:
    (tmp / "run").mkdir()
    return tmp / "run"


def _gmm2d_all_corrupt(tmp: Path, runs: dict[str, Path]) -> Path:
    out = _copy("gmm2d")(tmp, runs)
    for p in checkpoints.list_checkpoints(out / "checkpoints"):
        data = bytearray(p.read_bytes())
        data[-7] ^= 0x01
        p.write_bytes(bytes(data))
    return out


def _maze_flipped(tmp: Path, runs: dict[str, Path]) -> Path:
    out = _copy("maze")(tmp, runs)
    for p in checkpoints.list_checkpoints(out / "checkpoints"):  # maze runs use the same stack
        data = bytearray(p.read_bytes())
        data[-11] ^= 0x04
        p.write_bytes(bytes(data))
    return out


G, M = "gmm2d", "maze"
# (id, setup, args (OUT = the run directory), text that must appear in the message)
CASES: list[tuple[str, Callable[[Path, dict[str, Path]], Path], list[str], str]] = [
    ("lr-inf", _absent, [G, *GMM, "--lr", "inf", "--out", "OUT"], "inf is not a finite"),
    ("lr-nan", _absent, [G, *GMM, "--lr", "nan", "--out", "OUT"], "nan is not a finite"),
    ("lr-zero", _absent, [G, *GMM, "--lr", "0", "--out", "OUT"], "got 0.0"),
    ("lr-word", _absent, [G, *GMM, "--lr", "fast", "--out", "OUT"], "'fast' is not a number"),
    ("lr-negative", _absent, [G, *GMM, "--lr", "-1", "--out", "OUT"], "-1"),
    ("device-tpu", _absent, [G, *GMM, "--device", "tpu", "--out", "OUT"], "'tpu'"),
    ("steps-zero", _absent, [G, "--steps", "0", "--out", "OUT"], "0 is below the minimum 1"),
    ("steps-word", _absent, [G, "--steps", "many", "--out", "OUT"], "'many' is not an integer"),
    (
        "batch-zero",
        _absent,
        [G, *GMM, "--batch-size", "0", "--out", "OUT"],
        "0 is below the minimum 1",
    ),
    (
        "ckpt-every-zero",
        _absent,
        [G, *GMM, "--ckpt-every", "0", "--out", "OUT"],
        "0 is below the minimum 1",
    ),
    ("eval-samples-neg", _absent, [G, *GMM, "--eval-samples", "-5", "--out", "OUT"], "-5"),
    ("threads-neg", _absent, [G, *GMM, "--threads", "-2", "--out", "OUT"], "-2"),
    ("unknown-option", _absent, [G, *GMM, "--colour", "red", "--out", "OUT"], "--colour"),
    ("unknown-command", _absent, ["vqvae", "--out", "OUT"], "vqvae"),
    ("out-is-a-file", _file, [G, *GMM, "--out", "OUT"], "OUT exists and is not a directory"),
    ("resume-no-out", _absent, [G, "--resume"], "--resume needs --out"),
    ("resume-missing", _absent, [G, "--resume", "--out", "OUT"], "--out OUT does not exist"),
    ("resume-file", _file, [G, "--resume", "--out", "OUT"], "OUT exists and is not a dir"),
    ("resume-no-config", _empty, [G, "--resume", "--out", "OUT"], "OUT/config.json not found"),
    ("resume-garbage", _config("{oops"), [G, "--resume", "--out", "OUT"], "OUT/config.json"),
    ("resume-list", _config("[1, 2]"), [G, "--resume", "--out", "OUT"], "holds list"),
    (
        "resume-bad-field",
        _config('{"job": "gmm2d", "steps": "many"}'),
        [G, "--resume", "--out", "OUT"],
        "steps must be an integer >= 1, got 'many'",
    ),
    (
        "resume-bad-task",
        _config('{"job": "gmm2d", "task": 5}'),
        [G, "--resume", "--out", "OUT"],
        "task 5",
    ),
    ("resume-maze-run", _copy(M), [G, "--resume", "--out", "OUT"], "'maze' run"),
    (
        "resume-below-reached",
        _copy(G),
        [G, "--resume", "--steps", "2", "--out", "OUT"],
        "--steps 2",
    ),
    ("fresh-over-ckpts", _copy(G), [G, *GMM, "--out", "OUT"], "OUT already holds checkpoints"),
    ("all-ckpts-corrupt", _gmm2d_all_corrupt, [G, "--resume", "--out", "OUT"], "passes verif"),
    ("maze-unknown", _absent, [M, *MAZE, "--maze", "huge", "--out", "OUT"], "'huge'"),
    ("maze-heads", _absent, [M, "--heads", "3", "--out", "OUT"], "--heads 3"),
    ("maze-loss-weight", _absent, [M, *MAZE, "--loss-weight", "eps", "--out", "OUT"], "'eps'"),
    ("maze-ema", _absent, [M, *MAZE, "--ema", "1.5", "--out", "OUT"], "1.5 is outside"),
    (
        "maze-relative-anchor",
        _absent,
        [M, *MAZE, "--relative", "--anchor", "--out", "OUT"],
        "--anchor",
    ),
    (
        "maze-init-missing",
        _absent,
        [M, *MAZE, "--init", "/nonexistent/planner", "--out", "OUT"],
        "/nonexistent/planner",
    ),
    (
        "maze-d-model-zero",
        _absent,
        [M, "--d-model", "0", "--out", "OUT"],
        "0 is below the minimum 1",
    ),
    ("maze-out-file", _file, [M, *MAZE, "--out", "OUT"], "OUT exists and is not a directory"),
    ("maze-resume-missing", _absent, [M, "--resume", "--out", "OUT"], "--out OUT does not exist"),
    ("maze-resume-gmm2d", _copy(G), [M, "--resume", "--out", "OUT"], "'gmm2d' run"),
    ("maze-resume-garbage", _config("garbage"), [M, "--resume", "--out", "OUT"], "OUT/config.json"),
    ("maze-resume-below", _copy(M), [M, "--resume", "--steps", "1", "--out", "OUT"], "--steps 1"),
    ("maze-fresh-over", _copy(M), [M, *MAZE, "--out", "OUT"], "OUT already holds checkpoints"),
    ("maze-flipped-bit", _maze_flipped, [M, "--resume", "--out", "OUT"], "passes verif"),
]


@pytest.mark.parametrize(
    ("setup", "args", "needle"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_exits_2_names_it_and_changes_nothing(
    tmp_path: Path,
    finished: dict[str, Path],
    setup: Callable[[Path, dict[str, Path]], Path],
    args: list[str],
    needle: str,
) -> None:
    out = setup(tmp_path, finished)
    before = snapshot(out)
    res = CliRunner().invoke(app, [str(out) if a == "OUT" else a for a in args])
    text = _text(res.output)
    assert res.exit_code == 2, res.output
    assert needle.replace("OUT", str(out)) in text, text
    assert "Traceback" not in res.output
    assert snapshot(out) == before


@pytest.mark.parametrize("kind", [G, M])
def test_a_locked_run_directory_names_its_holder(
    tmp_path: Path, finished: dict[str, Path], kind: str
) -> None:
    out = _copy(kind)(tmp_path, finished)
    with RunLock(out, "someone else"):
        before = snapshot(out)
        res = CliRunner().invoke(app, [kind, "--resume", "--out", str(out)])
        assert res.exit_code == 2, res.output
        assert f"is in use by process {__import__('os').getpid()} (someone else" in _text(
            res.output
        )
        assert snapshot(out) == before


def test_an_internal_error_asks_for_a_bug_report_and_saves_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mctd_trainer.gmm2d as gmm2d

    def boom(*a: object, **k: object) -> None:
        raise KeyError("not a user error")

    monkeypatch.setattr(gmm2d, "train_gmm2d", boom)
    out = tmp_path / "run"
    out.mkdir()
    res = CliRunner().invoke(app, ["gmm2d", *GMM, "--out", str(out)])
    assert res.exit_code == 70 and "This is a bug in mctd" in res.output
    (crash,) = out.glob("crash-*.txt")
    assert "KeyError: 'not a user error'" in crash.read_text() and str(crash) in _text(res.output)


def test_litter_of_a_killed_run_is_removed_at_the_next_start(
    tmp_path: Path, finished: dict[str, Path]
) -> None:
    out = _copy(G)(tmp_path, finished)
    litter = [
        out / ".config.json.a1b2c3.tmp",
        out / "checkpoints" / ".ckpt-000000006.safetensors.tmp-99",
    ]
    for p in litter:
        p.write_bytes(b"\0" * 1000)
    res = CliRunner().invoke(app, [G, "--resume", "--steps", "4", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert not any(p.exists() for p in litter)
    assert json.loads((out / "eval.json").read_text())["end_step"] == 4
