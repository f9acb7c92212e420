"""The single worker: arrival order, a bounded queue, cancelled jobs skipped or stopped."""

from __future__ import annotations

import threading

import pytest
from helpers import tiny_chat_lm
from mctd_chat.engine import Engine
from mctd_chat.errors import Cancelled
from mctd_chat.settings import Settings
from mctd_chat.worker import Job, QueueFull, Worker

MSGS = [{"role": "user", "content": "hi"}]


def test_fifo_bounded_and_cancellable() -> None:
    worker = Worker(Engine(tiny_chat_lm()), max_queue=2)
    gate, started = threading.Event(), threading.Event()
    order: list[str] = []
    results: dict[str, object] = {}
    finished = threading.Semaphore(0)

    def done(name: str):
        def cb(answer, err) -> None:
            order.append(name)
            results[name] = err if err is not None else answer
            finished.release()

        return cb

    def block(_: str) -> None:  # holds the worker inside the first answer
        started.set()
        gate.wait(30)

    settings = Settings(max_tokens=3)
    worker.submit(Job(MSGS, settings, done("a"), on_text=block))
    assert started.wait(30)
    worker.submit(Job(MSGS, settings, done("b")))
    skipped = Job(MSGS, settings, done("skipped"))
    worker.submit(skipped)
    with pytest.raises(QueueFull, match="2 requests are already waiting"):
        worker.submit(Job(MSGS, settings, done("c")))
    skipped.cancel.set()  # its client went away while it waited
    gate.set()
    for _ in range(2):
        assert finished.acquire(timeout=30)
    # a client that goes away mid-answer: the next token stops the job
    stopped = Job(MSGS, settings, done("stopped"), on_text=lambda _: stopped.cancel.set())
    worker.submit(stopped)
    assert finished.acquire(timeout=30)
    worker.close()
    assert order[:2] == ["a", "b"]  # in arrival order; the cancelled one never ran
    assert "skipped" not in order
    assert isinstance(results["stopped"], Cancelled)
    assert worker.served == 2 and worker.failed == 1 and not worker.alive()
