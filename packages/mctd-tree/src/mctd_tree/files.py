"""Run-directory plumbing shared by the apps: one writer per directory, atomic files, checksums.

- `RunLock`: an OS file lock (``flock``) on ``<dir>/.mctd.lock`` held for a run's life. A second
  writer gets `RunLockedError` naming the holder's pid. The kernel drops the lock when its holder
  dies, so the lock of a killed process is simply taken over (and said so); the file holds only
  the holder's pid and command, for the message.
- `atomic_write` / `write_json`: temp file in the same folder, fsync, rename; JSON is strict (a
  non-finite float becomes ``null``, never the invalid literal ``NaN``).
- `atomic_folder`: a whole folder (a saved model) filled in a temporary sibling, then renamed
  over the old one.
- `clean_temp_files`: temp files a killed writer left behind, removed at the next start (under the
  lock, so they cannot belong to a live writer).
- `digest`: SHA-256 over named arrays *and* the metadata stored beside them, so an edited step or
  config in a checkpoint is caught like a flipped bit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mctd_tree.errors import RunLockedError, UserError

LOCK_NAME = ".mctd.lock"
_TEMP = re.compile(r"^\..+\.tmp(-\d+)?$|^\.tmp[\w-]*$|^\.planner\.safetensors\.\w{8}$")


class RunLock:
    """Exclusive lock on a run directory, held until `release` (or the process ends).

    ``with RunLock(path, "mctd-eval run") as lock: ...`` creates ``path`` if needed; a directory
    this lock created is removed again on release if nothing else was written into it.
    """

    def __init__(self, directory: Path | str, command: str = "") -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self.command = command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
        self.took_over: int | None = None  # pid of a dead holder whose lock was taken over
        self._fd: int | None = None
        self._created = False

    def acquire(self) -> RunLock:
        """Take the lock or raise `RunLockedError` (naming the live holder's pid)."""
        if self.directory.exists() and not self.directory.is_dir():
            raise UserError(f"{self.directory} exists and is not a directory")
        self._created = not self.directory.exists()
        self.directory.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise RunLockedError(self._held_message()) from None
            try:  # the file may have been unlinked by a releasing holder: lock the new one
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        old = _read_holder(fd)
        self.took_over = old.get("pid") if old else None
        info = {"pid": os.getpid(), "command": self.command, "since": time.strftime("%H:%M:%S")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Drop the lock and its file (and the directory, if this lock made it and it is empty)."""
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        os.close(self._fd)
        self._fd = None
        if self._created:
            with contextlib.suppress(OSError):
                self.directory.rmdir()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _held_message(self) -> str:
        info: dict[str, Any] = {}
        for _ in range(20):  # the holder writes its pid right after locking
            with contextlib.suppress(OSError, ValueError):
                info = json.loads(self.path.read_text() or "{}")
            if info.get("pid"):
                break
            time.sleep(0.01)
        pid = info.get("pid", "unknown")
        what = f" ({info['command']}, since {info.get('since')})" if info.get("command") else ""
        return (
            f"run directory {self.directory} is in use by process {pid}{what}; wait for it to "
            "finish (or stop it), or use another directory"
        )

    def __enter__(self) -> RunLock:
        return self.acquire() if not self.held else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        raw = os.pread(fd, 4096, 0)
        out = json.loads(raw or b"{}")
        return out if isinstance(out, dict) else {}
    except (OSError, ValueError):
        return {}


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` through a temp file in the same folder, fsync and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def atomic_folder(folder: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``folder`` to fill; on success it replaces ``folder`` (the old
    one is moved aside, then removed), on an error it is removed and ``folder`` is untouched."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            folder.rename(old)
            tmp.rename(folder)
            shutil.rmtree(old)
        else:
            tmp.rename(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    fsync_dir(folder.parent)


def finite_json(obj: Any) -> Any:
    """``obj`` with every non-finite float (and numpy scalar NaN/inf) replaced by None."""
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps(obj: Any) -> str:
    """Strict JSON (non-finite floats as null), indented, sorted keys, trailing newline."""
    return json.dumps(finite_json(obj), indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_json(path: Path, obj: Any) -> None:
    """`atomic_write` of `dumps(obj)`."""
    atomic_write(path, dumps(obj))


def read_json_object(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from ``path``, or `UserError` naming the file (missing, not JSON, not an
    object)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise UserError(f"{path} not found: is {path.parent} {what}?") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UserError(f"{path} cannot be read ({err}): is {path.parent} {what}?") from None
    try:
        out = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err}): is {path.parent} {what}?") from None
    if not isinstance(out, dict):
        raise UserError(
            f"{path} holds {type(out).__name__} {str(out)[:40]!r}, not a JSON object: "
            f"is {path.parent} {what}?"
        )
    return out


def clean_temp_files(directory: Path, subdirs: Iterable[str] = ()) -> list[Path]:
    """Remove temp files an interrupted writer left in ``directory`` (and ``subdirs``); call it
    only while holding the directory's `RunLock`. Returns what was removed."""
    removed = []
    for d in [directory, *(directory / s for s in subdirs)]:
        if not d.is_dir():
            continue
        for p in d.iterdir():
            if p.name != LOCK_NAME and _TEMP.match(p.name) and p.is_file():
                p.unlink(missing_ok=True)
                removed.append(p)
    return removed


def digest(
    arrays: Iterable[tuple[str, str, tuple[int, ...], bytes]], meta: Mapping[str, str]
) -> str:
    """SHA-256 over (name, dtype, shape, bytes) of each array, in the order given, then over the
    metadata (sorted ``key=value``; a ``sha256`` entry itself is left out)."""
    h = hashlib.sha256()
    for name, dtype, shape, raw in arrays:
        h.update(f"{name}|{dtype}|{tuple(shape)}|{len(raw)}|".encode())
        h.update(raw)
    for k in sorted(meta):
        if k != "sha256":
            h.update(f"meta|{len(k)}:{k}|{len(meta[k])}:{meta[k]}|".encode())
    return h.hexdigest()


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it is durable (a no-op where the OS refuses)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
