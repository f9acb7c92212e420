"""The OpenAI-compatible server (FastAPI on uvicorn).

- ``GET /v1/models``: the one loaded model. ``GET /health``: worker state and queue length.
- ``POST /v1/chat/completions``: an answer chosen as ``mctd`` says (see `schemas`); with
  ``stream: true`` server-sent events (``data: {chunk}`` lines, then ``data: [DONE]``). Plain
  decoding streams token by token; a search sends its answer when it is done.
- The answer's cost: ``usage`` (prompt / completion / total tokens) plus an ``mctd`` field
  (method, budget, reward, NFE, prompt NFE, calls, nodes, rollouts, wall and queue seconds,
  tokens/s, greedy's NFE for the answer's length, the answer's reward).

The model is loaded once; one worker thread answers requests in arrival order (`Worker`). Bad
input gets a 4xx with an OpenAI-style body ``{"error": {"message", "type", "param", "code"}}``
and the server goes on serving.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from mctd_tree.protocols import LanguageModel
from starlette.exceptions import HTTPException

from mctd_chat.engine import Answer, Engine
from mctd_chat.errors import Cancelled, ChatError
from mctd_chat.schemas import ChatRequest
from mctd_chat.worker import Job, QueueFull, Worker


def error_body(message: str, kind: str, code: str | None = None, param: str | None = None):
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, code: str | None = None, param: str | None = None):
    kind = "invalid_request_error" if status < 500 else "server_error"
    if status == 429:
        kind = "rate_limit_error"
    return JSONResponse(error_body(message, kind, code, param), status_code=status)


def chat_error(err: BaseException) -> JSONResponse:
    if isinstance(err, ChatError):
        return error_response(err.status, str(err), err.code)
    if isinstance(err, QueueFull):
        return error_response(429, f"server busy: {err}; retry later", "queue_full")
    return error_response(500, f"internal error: {type(err).__name__}: {err}")


def validation_message(err: RequestValidationError) -> str:
    """One line from pydantic's errors; a body that is not JSON says so."""
    parts = []
    for e in err.errors():
        if e.get("type") == "json_invalid":
            return f"malformed JSON body: {e.get('ctx', {}).get('error', e.get('msg'))}"
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body")
        parts.append(f"{where or 'body'}: {e.get('msg')}")
    return "invalid request: " + "; ".join(parts)


class Service:
    """The loaded model, its worker and the response builders."""

    def __init__(
        self, lm: LanguageModel, name: str, max_queue: int, allow_python_reward: bool
    ) -> None:
        self.name = name
        self.created = int(time.time())
        self.worker = Worker(Engine(lm, name), max_queue)
        self.allow_python_reward = allow_python_reward

    def usage(self, answer: Answer) -> dict[str, int]:
        c = answer.cost
        return {
            "prompt_tokens": c.prompt_tokens,
            "completion_tokens": c.completion_tokens,
            "total_tokens": c.prompt_tokens + c.completion_tokens,
        }

    def mctd(self, job: Job, answer: Answer) -> dict[str, Any]:
        s = job.settings
        return {
            **answer.cost.to_dict(),
            "reward_spec": s.reward,
            "queue_s": job.queue_s,
            "seed": s.seed,
            "temperature": s.temperature,
        }

    def completion(self, cid: str, job: Job, answer: Answer) -> dict[str, Any]:
        return {
            "id": cid,
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": answer.text},
                    "finish_reason": answer.finish_reason,
                }
            ],
            "usage": self.usage(answer),
            "mctd": self.mctd(job, answer),
        }

    def chunk(self, cid: str, delta: dict[str, Any], finish: str | None = None, **extra: Any):
        body = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": self.name,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body)}\n\n"


def create_app(
    lm: LanguageModel, name: str, *, max_queue: int = 256, allow_python_reward: bool = False
) -> FastAPI:
    """The ASGI app serving ``lm`` as model ``name`` (also answers to ``default``)."""
    svc = Service(lm, name, max_queue, allow_python_reward)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await asyncio.to_thread(svc.worker.close)

    api = FastAPI(title="mctd-chat", lifespan=lifespan)
    api.state.service = svc

    @api.exception_handler(RequestValidationError)
    async def bad_body(_: Request, err: RequestValidationError) -> JSONResponse:
        return error_response(400, validation_message(err), "invalid_body")

    @api.exception_handler(HTTPException)
    async def http_error(_: Request, err: HTTPException) -> JSONResponse:
        return error_response(err.status_code, str(err.detail))

    @api.get("/health")
    async def health() -> dict[str, Any]:
        w = svc.worker
        status = "ok" if w.alive() else "worker stopped"
        return {"status": status, "waiting": w.waiting(), "served": w.served, "failed": w.failed}

    @api.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": svc.name, "object": "model", "created": svc.created, "owned_by": "mctd"}
        return {"object": "list", "data": [card]}

    @api.post("/v1/chat/completions", response_model=None)
    async def chat_completions(req: ChatRequest) -> JSONResponse | StreamingResponse:
        if req.model not in (svc.name, "default"):
            return error_response(
                404,
                f"model {req.model!r} not found; this server has {svc.name!r}",
                "model_not_found",
                "model",
            )
        try:
            settings = req.settings(svc.allow_python_reward)
            stops = req.stops()
        except ChatError as err:
            return chat_error(err)
        loop = asyncio.get_running_loop()
        events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def post(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(events.put_nowait, (kind, value))

        job = Job(
            req.chat_messages(),
            settings,
            done=lambda answer, err: post("done", (answer, err)),
            stop=stops,
            on_text=(lambda piece: post("text", piece)) if req.stream else None,
        )
        try:
            svc.worker.submit(job)
        except QueueFull as err:
            return chat_error(err)
        cid = f"chatcmpl-{uuid.uuid4().hex}"
        try:
            first = await events.get()
        except asyncio.CancelledError:
            job.cancel.set()
            raise
        if first[0] == "done":
            answer, failure = first[1]
            if failure is not None:
                return chat_error(failure)
            if not req.stream:
                return JSONResponse(svc.completion(cid, job, answer))
        include_usage = bool(req.stream_options and req.stream_options.include_usage)
        return StreamingResponse(
            sse(svc, cid, job, first, events, include_usage), media_type="text/event-stream"
        )

    return api


async def sse(
    svc: Service,
    cid: str,
    job: Job,
    first: tuple[str, Any],
    events: asyncio.Queue[tuple[str, Any]],
    include_usage: bool,
) -> AsyncIterator[str]:
    """The event stream: role, content pieces, the finish (with ``mctd``), usage, [DONE]."""
    try:
        yield svc.chunk(cid, {"role": "assistant", "content": ""})
        event = first
        while True:
            kind, value = event
            if kind == "text":
                yield svc.chunk(cid, {"content": value})
            else:
                answer, err = value
                if err is not None:
                    if not isinstance(err, Cancelled):
                        yield f"data: {bytes(chat_error(err).body).decode()}\n\n"
                    break
                if first[0] == "done":  # a search, or nothing was streamed
                    yield svc.chunk(cid, {"content": answer.text})
                yield svc.chunk(cid, {}, answer.finish_reason, mctd=svc.mctd(job, answer))
                if include_usage:
                    usage = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": svc.name,
                        "choices": [],
                        "usage": svc.usage(answer),
                    }
                    yield f"data: {json.dumps(usage)}\n\n"
                break
            event = await events.get()
        yield "data: [DONE]\n\n"
    finally:
        job.cancel.set()
