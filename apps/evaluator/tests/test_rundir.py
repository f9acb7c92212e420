"""Run directory: durable appends, corrupt lines skipped, foreign configurations refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mctd_eval.rundir import ForeignRunError, RunDir


def test_append_and_load_roundtrip(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    rd.start({"config": {"a": 1}})
    rd.append({"key": "x", "v": 1.5})
    rd.append({"key": "y", "v": None})
    loaded = rd.load()
    assert [r["key"] for r in loaded.rows] == ["x", "y"] and not loaded.problems


def test_truncated_line_is_reported_skipped_and_next_row_survives(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    rd.start({"config": {}})
    rd.append({"key": "a"})
    with rd.results.open("ab") as f:
        f.write(b'{"key": "b", "v": 1')  # a kill in the middle of a write
    rd.append({"key": "c"})
    loaded = rd.load()
    assert [r["key"] for r in loaded.rows] == ["a", "c"]
    assert len(loaded.problems) == 1 and "corrupt line" in loaded.problems[0]
    assert ":2:" in loaded.problems[0]


def test_duplicates_keep_the_first_row(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    rd.start({"config": {}})
    rd.append({"key": "a", "v": 1})
    rd.append({"key": "a", "v": 2})
    loaded = rd.load()
    assert loaded.rows == [{"key": "a", "v": 1}] and "duplicate" in loaded.problems[0]


def test_rows_must_be_strict_json(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    rd.start({"config": {}})
    with pytest.raises(ValueError):
        rd.append({"key": "a", "v": float("nan")})
    assert not rd.results.exists() or rd.results.read_bytes() == b""


def test_foreign_configuration_is_refused_without_writing(tmp_path: Path) -> None:
    rd = RunDir(tmp_path / "run")
    rd.check({"a": 1})  # a missing directory is fine and is not created
    assert not rd.path.exists()
    rd.start({"config": {"a": 1}})
    rd.check({"a": 1})  # same configuration: resume
    before = sorted(p.name for p in rd.path.iterdir())
    with pytest.raises(ForeignRunError, match=r"differs in: a.*--force"):
        rd.check({"a": 2})
    assert sorted(p.name for p in rd.path.iterdir()) == before
    rd.check({"a": 2}, force=True)


def test_force_discards_the_previous_run_files_only(tmp_path: Path) -> None:
    rd = RunDir(tmp_path)
    rd.start({"config": {"a": 1}})
    rd.append({"key": "a"})
    (tmp_path / "notes.txt").write_text("mine")
    rd.start({"config": {"a": 2}}, force=True)
    assert not rd.results.exists()
    assert json.loads((tmp_path / "config.json").read_text()) == {"config": {"a": 2}}
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_results_without_config_is_foreign(tmp_path: Path) -> None:
    (tmp_path / "results.jsonl").write_text("")
    with pytest.raises(ForeignRunError, match=r"no config\.json"):
        RunDir(tmp_path).check({"a": 1})
