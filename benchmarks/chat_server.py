"""What the OpenAI-compatible server of mctd-chat costs over calling the engine in-process.

In one run, on one model (default: the embedded SmolLM2-135M-Instruct):

(a) overhead: a greedy completion of ``--tokens`` tokens through ``mctd-chat serve`` (HTTP, JSON,
    the queue and the worker thread; measured by the official openai client, non-streamed) against
    the same generation in-process (``Engine.reply``), on the same prompts in the same order, so
    both prefix caches go through the same states. Reported: median(server) / median(in-process).
    Target: <= 1.10.
(b) latency under load: ``--clients`` concurrent clients x ``--requests`` greedy requests each;
    p50 / p95 / max latency per request and requests per second (one worker answers them in
    arrival order, so latency grows with the queue: p95 ~ clients x one request).

The machine is shared: both sides use ``--threads`` torch threads, and the server process is
started before timing. Results go to ``benchmarks/results/chat_server.json``. Run:
``uv run --package mctd-chat python benchmarks/chat_server.py [--model default]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

TARGET = 1.10
QUESTIONS = [
    "What is the capital of France?",
    "Name three colours of the rainbow.",
    "Why is the sky blue?",
    "Give me a tip for sleeping well.",
    "What is a prime number?",
    "How do plants make food?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(model: str, port: int, threads: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "mctd_chat", "serve", "--model", model, "--port", str(port)]
    cmd += ["--threads", str(threads)]
    return subprocess.Popen(cmd, env=env)


def wait_ready(client: Any, proc: subprocess.Popen[bytes], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            client.models.list()
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError("the server did not come up")


def messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (request {i})"}]


def overhead(client: Any, engine: Any, model: str, tokens: int, repeats: int) -> dict[str, Any]:
    """Alternate server and in-process runs over the same prompts; medians and their ratio."""
    from mctd_chat.settings import Settings

    settings = Settings(method="greedy", max_tokens=tokens)
    server, local, toks = [], [], []
    for i in range(repeats):
        msgs = messages(i)
        t0 = time.perf_counter()
        r = client.chat.completions.create(
            model=model, messages=msgs, max_tokens=tokens, temperature=0
        )
        server.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        a = engine.reply(msgs, settings)
        local.append(time.perf_counter() - t0)
        if r.choices[0].message.content != a.text:
            raise RuntimeError(f"server and in-process answers differ on request {i}")
        toks.append(a.cost.completion_tokens)
        print(f"  {i}: server {server[-1]:.3f} s, in-process {local[-1]:.3f} s", file=sys.stderr)
    ratio = float(np.median(server) / np.median(local))
    return {
        "server_median_s": float(np.median(server)),
        "in_process_median_s": float(np.median(local)),
        "ratio": ratio,
        "target": TARGET,
        "met": ratio <= TARGET,
        "completion_tokens": toks,
    }


def load(url: str, model: str, clients: int, requests: int, tokens: int) -> dict[str, Any]:
    """``clients`` threads x ``requests`` greedy completions; latency percentiles."""
    from openai import OpenAI

    def loop(c: int) -> list[float]:
        cl = OpenAI(base_url=url, api_key="x", max_retries=0, timeout=600)
        out = []
        for j in range(requests):
            t0 = time.perf_counter()
            cl.chat.completions.create(
                model=model, messages=messages(1000 + c * requests + j), max_tokens=tokens
            )
            out.append(time.perf_counter() - t0)
        return out

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = [x for xs in pool.map(loop, range(clients)) for x in xs]
    wall = time.perf_counter() - t0
    return {
        "requests": len(lat),
        "p50_s": float(np.percentile(lat, 50)),
        "p95_s": float(np.percentile(lat, 95)),
        "max_s": float(np.max(lat)),
        "requests_per_s": len(lat) / wall,
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/chat_server.json"))
    args = ap.parse_args()

    import torch
    from mctd_chat.backends import load_lm
    from mctd_chat.engine import Engine
    from mctd_chat.settings import Settings
    from openai import OpenAI

    torch.set_num_threads(args.threads)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    proc = start_server(args.model, port, args.threads)
    try:
        client = OpenAI(base_url=url, api_key="x", max_retries=0, timeout=600)
        engine = Engine(load_lm(args.model, progress=False), args.model)
        wait_ready(client, proc)
        print("server up; measuring", file=sys.stderr, flush=True)
        client.chat.completions.create(model=args.model, messages=messages(-1), max_tokens=2)
        engine.reply(messages(-1), Settings(max_tokens=2))
        a = overhead(client, engine, args.model, args.tokens, args.repeats)
        b = load(url, args.model, args.clients, args.requests, args.tokens)
    finally:
        proc.terminate()
        proc.wait(30)
    print(f"(a) greedy, {args.tokens} tokens, {args.repeats} prompts, threads {args.threads}")
    print(
        f"    server median {a['server_median_s']:.3f} s, in-process median "
        f"{a['in_process_median_s']:.3f} s, ratio {a['ratio']:.3f} "
        f"(target <= {TARGET}: {'met' if a['met'] else 'NOT met'})"
    )
    print(f"(b) {args.clients} clients x {args.requests} requests of {args.tokens} tokens")
    print(
        f"    p50 {b['p50_s']:.2f} s, p95 {b['p95_s']:.2f} s, max {b['max_s']:.2f} s, "
        f"{b['requests_per_s']:.2f} requests/s"
    )
    doc = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "overhead": a,
        "load": b,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
