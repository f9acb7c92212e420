"""Run-directory lock, atomic strict JSON, temp-file cleanup, checksums and the error hierarchy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mctd_tree.errors import (
    EXIT_INTERNAL,
    EXIT_USER,
    IntegrityError,
    InternalError,
    RunLockedError,
    UserError,
    describe,
)
from mctd_tree.files import (
    LOCK_NAME,
    RunLock,
    clean_temp_files,
    digest,
    dumps,
    read_json_object,
    write_json,
)


def test_errors_keep_builtin_bases() -> None:
    assert issubclass(UserError, ValueError)
    assert issubclass(IntegrityError, UserError) and issubclass(RunLockedError, UserError)
    assert issubclass(InternalError, RuntimeError) and not issubclass(InternalError, UserError)


def test_describe_user_and_internal(tmp_path: Path) -> None:
    msg, code = describe(UserError("bad --lr 'inf'"), tmp_path, "prog")
    assert (msg, code) == ("error: bad --lr 'inf'", EXIT_USER)
    try:
        raise KeyError("boom")
    except KeyError as err:
        msg, code = describe(err, tmp_path, "prog")
    assert code == EXIT_INTERNAL and "bug" in msg
    (crash,) = tmp_path.glob("crash-prog-*.txt")
    assert "KeyError" in crash.read_text() and str(crash) in msg


def test_lock_excludes_second_holder_and_cleans_up(tmp_path: Path) -> None:
    d = tmp_path / "run"
    with RunLock(d, "first") as lock:
        assert (d / LOCK_NAME).exists()
        with pytest.raises(RunLockedError, match=rf"process {os.getpid()} \(first"):
            RunLock(d, "second").acquire()
        assert lock.took_over is None
    assert not d.exists()  # the lock made the directory and nothing else was written


def test_lock_keeps_a_directory_with_content(tmp_path: Path) -> None:
    with RunLock(tmp_path / "run"):
        (tmp_path / "run" / "config.json").write_text("{}")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["config.json"]


def test_lock_on_a_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        RunLock(tmp_path / "f").acquire()


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path: Path) -> None:
    d = tmp_path / "run"
    code = (
        "import sys, time; from mctd_tree.files import RunLock; "
        f"RunLock({str(d)!r}, 'holder').acquire(); print('held', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLockedError, match=rf"process {proc.pid} \(holder"):
            RunLock(d).acquire()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert (d / LOCK_NAME).exists()  # the dead holder's file stays; its lock is gone
    lock = RunLock(d).acquire()
    assert lock.took_over == proc.pid
    assert json.loads((d / LOCK_NAME).read_text())["pid"] == os.getpid()
    lock.release()


def test_write_json_is_strict_and_atomic(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"x": float("nan"), "y": [1.0, float("inf")], "z": 2})
    assert json.loads((tmp_path / "a.json").read_text()) == {"x": None, "y": [1.0, None], "z": 2}
    assert "NaN" not in dumps({"a": float("-inf")})
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.parametrize(
    ("text", "match"),
    [(None, "not found"), ("{oops", "not valid JSON"), ("[1]", "holds list"), ("5", "holds int")],
)
def test_read_json_object_names_the_file(tmp_path: Path, text: str | None, match: str) -> None:
    p = tmp_path / "config.json"
    if text is not None:
        p.write_text(text)
    with pytest.raises(UserError, match=match) as info:
        read_json_object(p, "a run directory")
    assert str(p) in str(info.value)


def test_clean_temp_files(tmp_path: Path) -> None:
    (tmp_path / "ck").mkdir()
    litter = [
        ".summary.csv.ab12cd.tmp",
        ".config.json.tmp",
        ".tmpq1w2e3",
        "ck/.c.safetensors.tmp-77",
    ]
    keep = ["results.jsonl", LOCK_NAME, ".hidden", "ck/ckpt-000000010.safetensors"]
    for name in litter + keep:
        (tmp_path / name).write_text("x")
    time.sleep(0)
    removed = clean_temp_files(tmp_path, ["ck"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in removed) == sorted(litter)
    assert all((tmp_path / k).exists() for k in keep)


def test_digest_covers_arrays_and_metadata() -> None:
    arrays = [("w", "F32", (2,), b"\x00\x00\x80\x3f\x00\x00\x00\x40")]
    base = digest(arrays, {"step": "600"})
    assert digest(arrays, {"step": "600", "sha256": "ignored"}) == base
    assert digest(arrays, {"step": "900"}) != base
    flipped = [("w", "F32", (2,), b"\x01\x00\x80\x3f\x00\x00\x00\x40")]
    assert digest(flipped, {"step": "600"}) != base
    assert digest([("w", "F32", (1, 2), arrays[0][3])], {"step": "600"}) != base


def test_atomic_folder_replaces_on_success_and_keeps_the_old_on_error(tmp_path: Path) -> None:
    from mctd_tree.files import atomic_folder

    target = tmp_path / "model"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (target / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("two")
        raise RuntimeError("killed half way")
    assert (target / "a.txt").read_text() == "one"
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("three")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # no temporary left
