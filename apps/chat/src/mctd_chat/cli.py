"""``mctd-chat``: the terminal chat, and ``mctd-chat serve``: the OpenAI-compatible server.

User errors (a bad option, a model that cannot load, an unreadable file) print one line and exit
with code 2.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import typer

from mctd_chat import __version__
from mctd_chat.errors import ChatError

app = typer.Typer(add_completion=False, help=__doc__, no_args_is_help=False)

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="'default' (embedded SmolLM2-135M-Instruct), a Hugging Face id, a local folder or "
        "a .gguf file",
    ),
]
BackendOpt = Annotated[
    str,
    typer.Option("--backend", help="torch, mlx (the 'mlx' extra), mor (--model RUN_DIR) or toy"),
]
ThreadsOpt = Annotated[int | None, typer.Option("--threads", help="torch CPU threads")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, mps (torch)")]


def fail(msg: str) -> None:
    typer.echo(f"mctd-chat: {msg}", err=True)
    raise typer.Exit(2)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mctd-chat {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def chat(
    ctx: typer.Context,
    model: ModelOpt = "default",
    backend: BackendOpt = "torch",
    method: Annotated[str, typer.Option(help="greedy, sample, best_of_n, beam, mcts, ...")] = (
        "greedy"
    ),
    budget: Annotated[int, typer.Option(help="NFE a search may spend per answer")] = 512,
    reward: Annotated[
        str, typer.Option(help="likelihood, json, 'regex PATTERN', 'length N', python:mod:fn")
    ] = "likelihood",
    schema: Annotated[
        Path | None, typer.Option(help="JSON Schema file for the json reward")
    ] = None,
    temp: Annotated[float, typer.Option(help="sampling temperature")] = 0.7,
    max_tokens: Annotated[int, typer.Option(help="most tokens per answer")] = 256,
    seed: Annotated[int, typer.Option(help="seed of sampling and search")] = 0,
    system: Annotated[str | None, typer.Option(help="a system prompt")] = None,
    load: Annotated[
        Path | None, typer.Option(help="resume a saved conversation (JSONL) with its settings")
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="save the conversation here after every answer")
    ] = None,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """Chat in the terminal; answers are chosen by decoding or by tree search (see /help)."""
    if ctx.invoked_subcommand is not None:
        return
    from mctd_chat.backends import load_lm
    from mctd_chat.conversation import Conversation
    from mctd_chat.engine import Engine
    from mctd_chat.settings import Settings
    from mctd_chat.terminal import Terminal, load_schema

    try:
        if load is not None:
            conv = Conversation.load(load)
        else:
            settings = Settings(
                method=method,
                budget=budget,
                reward=reward,
                schema=load_schema(str(schema)) if schema is not None else None,
                temperature=temp,
                max_tokens=max_tokens,
                seed=seed,
            )
            settings.check_python()
            conv = Conversation(settings)
            if system:
                conv.messages.append({"role": "system", "content": system})
        conv.model, conv.backend = model, backend
        lm = load_lm(model, backend=backend, threads=threads, device=device)
    except (ChatError, OSError) as err:
        fail(str(err))
    with contextlib.suppress(ImportError):  # platforms without readline
        import readline  # noqa: F401  (line editing and history for input(); prompt on stdout)
    term = Terminal(Engine(lm, model), conv, save_path=save)
    term.run()


@app.command()
def serve(
    model: ModelOpt = "default",
    backend: BackendOpt = "torch",
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    max_queue: Annotated[int, typer.Option(help="most requests waiting; more get 429")] = 256,
    allow_python_reward: Annotated[
        bool,
        typer.Option(help="let requests name python:module:function rewards (runs their code)"),
    ] = False,
    threads: ThreadsOpt = None,
    device: DeviceOpt = None,
) -> None:
    """An OpenAI-compatible server: GET /v1/models, POST /v1/chat/completions (stream too)."""
    import uvicorn

    from mctd_chat.backends import load_lm
    from mctd_chat.server import create_app

    try:
        lm = load_lm(model, backend=backend, threads=threads, device=device)
    except (ChatError, OSError) as err:
        fail(str(err))
    api = create_app(lm, model, max_queue=max_queue, allow_python_reward=allow_python_reward)
    uvicorn.run(api, host=host, port=port, log_level="warning")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
