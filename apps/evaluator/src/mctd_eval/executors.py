"""The Ray executor (one model per worker actor) and what both executors share; the ``local``
executor (one process, one model) is `mctd_eval.execute.LocalExecutor`.

Both take the cells still to run and yield result rows as cells finish; the caller appends them
to the run directory, so Ray's results land in the same ``results.jsonl`` as local ones. Rows do
not depend on which worker ran a cell (each cell clears the model's prefix cache and has its own
seeded generator), so both executors give the same rows up to timings.

An executor is built before the run directory is touched: a model that fails to load or a Ray
address that cannot be reached is a clear error with no files left behind.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import Any

from mctd_tree.errors import UserError

from mctd_eval.config import Cell, Runtime
from mctd_eval.runner import CellWorker

EXECUTORS = ("local", "ray")


class ExecutorError(UserError, RuntimeError):
    """The executor could not start (unreachable cluster, missing extra, failed workers)."""


def check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast, with a clear message, when ``host:port`` (or ``ray://host:port``) is closed."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"Ray address {address!r} is not host:port (or ray://host:port)")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as err:
        raise ExecutorError(
            f"cannot reach a Ray cluster at {address} ({err}); start one with `ray start --head` "
            "or drop --address to run a local Ray instance"
        ) from err


def _import_ray() -> Any:
    """Import ray with its ``uv run`` runtime-env hook off (DESIGN.md §8), unless the user set
    ``RAY_ENABLE_UV_RUN_RUNTIME_ENV`` explicitly.

    Under ``uv run`` the hook makes every worker re-run ``uv`` in a copy of the working directory,
    which re-installs the workspace packages into the driver's virtualenv (pointing at a temporary
    copy) or builds a new multi-GB one; local workers share the driver's environment anyway. Ray
    reads the variable once, at import, so if ray was imported earlier the constant is set too.
    """
    explicit = "RAY_ENABLE_UV_RUN_RUNTIME_ENV" in os.environ
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray

    if not explicit:
        try:
            from ray._private import ray_constants

            ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
        except (ImportError, AttributeError):  # pragma: no cover - other ray versions
            pass
    return ray


class RayExecutor:
    """Cells sharded over ``runtime.workers`` actors; each actor loads the model once."""

    def __init__(self, identity: dict[str, Any], runtime: Runtime, progress: bool = True) -> None:
        try:
            ray = _import_ray()
        except ImportError as err:
            raise ExecutorError(
                "the ray executor needs the 'ray' extra of mctd-evaluator: "
                "`uv sync --package mctd-evaluator --extra ray` (or `pip install "
                "'mctd-evaluator[ray]'`)"
            ) from err
        self.ray = ray
        if runtime.address:
            check_reachable(runtime.address)
        self.started = not ray.is_initialized()
        try:
            if self.started:
                kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": True}
                if runtime.address:
                    ray.init(address=runtime.address, **kw)
                else:
                    ray.init(num_cpus=runtime.workers, **kw)
            remote: Any = ray.remote(num_cpus=1)(CellWorker)
            self.actors = [
                remote.remote(identity, runtime.threads, False, runtime.save_trees)
                for _ in range(runtime.workers)
            ]
            ray.get([a.ready.remote() for a in self.actors])
        except Exception as err:
            self.close()
            raise ExecutorError(f"Ray workers could not start: {err}") from err

    def run(self, cells: Sequence[Cell]) -> Iterator[dict[str, Any]]:
        ray = self.ray
        queue = list(cells)
        pending: dict[Any, Any] = {}

        def submit(actor: Any) -> None:
            if queue:
                pending[actor.run.remote(asdict(queue.pop(0)))] = actor

        for actor in self.actors:
            submit(actor)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            actor = pending.pop(ready[0])
            row = ray.get(ready[0])
            submit(actor)
            yield row

    def close(self) -> None:
        if self.started and self.ray.is_initialized():
            self.ray.shutdown()
