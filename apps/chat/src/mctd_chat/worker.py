"""One worker thread owns the model and answers jobs from one FIFO queue, in arrival order.

The model is loaded once and only this thread touches it, so requests never interleave inside a
forward pass; a full queue refuses new jobs (`QueueFull`) instead of growing without bound. A job
whose ``cancel`` is set (its client went away) is skipped, or stopped at its next token or
batched search call.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mctd_chat.engine import Answer, Engine
from mctd_chat.errors import Cancelled
from mctd_chat.live import Progress
from mctd_chat.settings import Settings


class QueueFull(RuntimeError):
    """More jobs are waiting than the server accepts."""


@dataclass
class Job:
    """One answer to compute; ``done(answer, error)`` is called from the worker thread."""

    messages: list[dict[str, str]]
    settings: Settings
    done: Callable[[Answer | None, BaseException | None], None]
    stop: Sequence[str] = ()
    on_text: Callable[[str], None] | None = None
    cancel: threading.Event = field(default_factory=threading.Event)
    enqueued: float = field(default_factory=time.perf_counter)
    queue_s: float = 0.0


class Worker:
    """A daemon thread answering `Job` s one at a time with ``engine``."""

    def __init__(self, engine: Engine, max_queue: int = 256) -> None:
        if max_queue < 1:
            raise ValueError(f"max_queue must be >= 1, got {max_queue}")
        self.engine = engine
        self.jobs: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self.served = 0
        self.failed = 0
        self._thread = threading.Thread(target=self._loop, name="mctd-chat-worker", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> None:
        try:
            self.jobs.put_nowait(job)
        except queue.Full as err:
            raise QueueFull(f"{self.jobs.maxsize} requests are already waiting") from err

    def waiting(self) -> int:
        return self.jobs.qsize()

    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout: float = 5.0) -> None:
        """Stop after the jobs already queued (a None marks the end)."""
        self.jobs.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            if job.cancel.is_set():
                continue
            job.queue_s = time.perf_counter() - job.enqueued
            try:
                answer = self._answer(job)
            except BaseException as err:  # reported to the request; the worker goes on
                self.failed += 1
                job.done(None, err)
            else:
                self.served += 1
                job.done(answer, None)

    def _answer(self, job: Job) -> Answer:
        def on_text(piece: str) -> None:
            if job.cancel.is_set():
                raise Cancelled("the client went away")
            if job.on_text is not None:
                job.on_text(piece)

        def on_progress(_: Progress) -> None:
            if job.cancel.is_set():
                raise Cancelled("the client went away")

        kwargs: dict[str, Any] = {"stop": job.stop, "on_text": on_text, "on_progress": on_progress}
        return self.engine.reply(job.messages, job.settings, **kwargs)
