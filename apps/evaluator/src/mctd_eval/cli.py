"""``mctd-eval``: which search method gives the most reward for my compute, on my model and task?

With no arguments it runs the quick preset (forecast and arith, every method, one small NFE
budget) on the default model and prints the table and the figure paths.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from mctd_tree.errors import UserError, describe, user_errors

from mctd_eval import __version__

app = typer.Typer(add_completion=False, help=__doc__, invoke_without_command=True)


def _csv(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _ints(value: str | None, what: str) -> list[int] | None:
    items = _csv(value)
    if items is None:
        return None
    try:
        return [int(v) for v in items]
    except ValueError:
        raise typer.BadParameter(
            f"{what} must be comma-separated integers, got {value!r}"
        ) from None


@contextmanager
def _errors(prog: str, run_dir: Path | None = None) -> Iterator[None]:
    """`mctd_tree.errors.UserError` -> one line, exit 2; anything else is a bug: exit 70 with a
    request for a report and the traceback saved to ``run_dir`` (when it exists)."""
    try:
        yield
    except (typer.Exit, typer.Abort, typer.TyperException):
        raise
    except Exception as err:
        msg, code = describe(err, run_dir, prog)
        typer.secho(msg, fg=typer.colors.RED, err=True)
        raise typer.Exit(code) from None


def _run(
    *,
    preset: str,
    tasks: str | None = None,
    methods: str | None = None,
    budgets: str | None = None,
    prompts: int | None = None,
    seeds: str | None = None,
    backend: str = "torch",
    model: str = "default",
    sets: list[str] | None = None,
    executor: str = "local",
    address: str | None = None,
    workers: int = 2,
    threads: int = 1,
    out: Path | None = None,
    force: bool = False,
    progress: bool = True,
    figures: bool = True,
    save_trees: bool = False,
) -> None:
    from mctd_eval import execute
    from mctd_eval.config import RunConfig, Runtime, apply_overrides
    from mctd_eval.config import preset as get_preset
    from mctd_eval.executors import EXECUTORS

    with _errors("mctd-eval run", out), user_errors():  # validation: ValueError = bad input
        base = get_preset(preset)
        bud = _ints(budgets, "--budgets")
        if bud is not None and any(b < 1 for b in bud):
            raise ValueError(f"NFE budgets must be >= 1, got {bud}")
        cfg = RunConfig(
            tasks=_csv(tasks) or base["tasks"],
            # explicit tasks without --methods: every method those tasks accept
            methods=_csv(methods) or ([] if tasks else base["methods"]),
            budgets=bud if bud is not None else base["budgets"],
            prompts=prompts if prompts is not None else base["prompts"],
            seeds=_ints(seeds, "--seeds") or base["seeds"],
            backend=backend,
            model=model,
            name=preset if out is None else out.name,
        )
        cfg = apply_overrides(cfg, sets or []).resolved()
        if executor not in EXECUTORS:
            raise ValueError(
                f"unknown executor {executor!r}; valid executors: {', '.join(EXECUTORS)}"
            )
        if address and executor != "ray":
            raise ValueError("--address is for --executor ray")
        if workers < 1 or threads < 0:
            raise ValueError(f"--workers must be >= 1 and --threads >= 0, got {workers}, {threads}")
    with _errors("mctd-eval run", out):
        runtime = Runtime(executor, address, workers, threads or None, save_trees)
        run_dir = out or Path("runs") / f"{time.strftime('%Y%m%d-%H%M%S')}-{cfg.name}"
        t0 = time.perf_counter()
        result = execute.run(cfg, runtime, run_dir, force=force, progress=progress, figures=figures)
    wall = time.perf_counter() - t0
    typer.echo(result.markdown)
    typer.echo(
        f"ran {result.ran} cell(s), skipped {result.skipped} finished, in {wall:.0f} s; "
        f"run directory {result.run_dir}"
    )
    typer.echo(f"tables: {result.run_dir / 'summary.md'}, {result.run_dir / 'summary.csv'}")
    for p in result.figures:
        typer.echo(f"figure: {p}")


@app.callback()
def main_callback(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Compare search methods at matched compute (NFE) on a language model and tasks."""
    if version:
        typer.echo(__version__)
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        _run(preset="quick")


@app.command("run")
def run_cmd(
    preset: Annotated[
        str, typer.Option(help="Starting point: quick, standard, gmm2d or maze.")
    ] = "quick",
    tasks: Annotated[str | None, typer.Option(help="Comma-separated tasks (see `list`).")] = None,
    methods: Annotated[str | None, typer.Option(help="Comma-separated methods.")] = None,
    budgets: Annotated[
        str | None,
        typer.Option(help="Comma-separated NFE budgets (>= 1; MCTD expansions on maze tasks)."),
    ] = None,
    prompts: Annotated[int | None, typer.Option(help="Prompts per task.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated search seeds.")] = None,
    backend: Annotated[
        str, typer.Option(help="torch, mlx, mor (--model RUN_DIR) or toy.")
    ] = "torch",
    model: Annotated[
        str,
        typer.Option(
            help="LM tasks: default, a Hugging Face id or a local path. Diffusion tasks: "
            "default/exact (closed-form denoiser) or an mctd-train gmm2d run folder. Maze tasks: "
            "a folder holding <maze>-dense and <maze>-sparse mctd-train maze folders."
        ),
    ] = "default",
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override: temperature=0.7, mcts.k=8, forecast.gamma=0.5 ..."),
    ] = None,
    executor: Annotated[str, typer.Option(help="local or ray.")] = "local",
    address: Annotated[str | None, typer.Option(help="Ray cluster address (host:port).")] = None,
    workers: Annotated[int, typer.Option(help="Ray worker actors (one model each).")] = 2,
    threads: Annotated[
        int, typer.Option(help="torch CPU threads per model (0 = torch's default).")
    ] = 1,
    out: Annotated[
        Path | None, typer.Option(help="Run directory (default runs/<time>-<name>).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Discard a run of another configuration in --out.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    figures: Annotated[bool, typer.Option(help="Write the PNG figures.")] = True,
    save_trees: Annotated[
        bool,
        typer.Option(
            help="Write each cell's search tree (trees/<cell>.html viewer and .dot) and, on maze "
            "tasks, its plans (figures/plans/<cell>.png); see `mctd-eval view`."
        ),
    ] = False,
) -> None:
    """Run methods x tasks x budgets x prompts x seeds; resumable (finished cells are skipped)."""
    _run(
        preset=preset,
        tasks=tasks,
        methods=methods,
        budgets=budgets,
        prompts=prompts,
        seeds=seeds,
        backend=backend,
        model=model,
        sets=set_,
        executor=executor,
        address=address,
        workers=workers,
        threads=threads,
        out=out,
        force=force,
        progress=progress,
        figures=figures,
        save_trees=save_trees,
    )


@app.command()
def view(
    run_dir: Annotated[Path, typer.Argument(help="A run directory.")],
    cell: Annotated[
        str | None,
        typer.Option(help="A cell key (arith|p0|mcts|128|s0) or part of its file name."),
    ] = None,
    open_: Annotated[
        bool, typer.Option("--open", help="Open the (single) matching viewer in a web browser.")
    ] = False,
) -> None:
    """Print the paths of a run's tree viewers (written by `run --save-trees`), or open one."""
    from mctd_eval.trees import find_trees

    with _errors("mctd-eval view"):
        if not (run_dir / "config.json").is_file():
            raise UserError(f"{run_dir} has no config.json: not an mctd-eval run directory")
        pages = find_trees(run_dir, cell)
        if not pages:
            what = f" matching {cell!r}" if cell else ""
            raise UserError(
                f"no tree viewers{what} in {run_dir / 'trees'}; run with --save-trees (methods "
                "without a search tree, such as greedy or best_of_n, have none)"
            )
        if open_ and len(pages) > 1:
            raise UserError(f"{len(pages)} viewers match; narrow --cell to open one")
    for page in pages:
        typer.echo(str(page))
    if open_:
        import webbrowser

        webbrowser.open(pages[0].resolve().as_uri())


@app.command()
def report(run_dir: Annotated[Path, typer.Argument(help="A run directory.")]) -> None:
    """Rebuild summary.csv, summary.md and the figures from results.jsonl."""
    from mctd_eval import execute

    with _errors("mctd-eval report", run_dir):
        result = execute.report(run_dir)
    for problem in result.problems:
        typer.echo(f"warning: {problem}", err=True)
    typer.echo(result.markdown)
    for fig in result.figures:
        typer.echo(f"figure: {fig}")


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="Run directory A.")],
    run_b: Annotated[Path, typer.Argument(help="Run directory B.")],
) -> None:
    """Compare two runs on the task/method/budget groups they share (B - A)."""
    from mctd_eval.compare import compare as do_compare

    with _errors("mctd-eval compare"):
        typer.echo(do_compare(run_a, run_b))


@app.command("list")
def list_cmd(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable.")] = False,
) -> None:
    """Tasks (with parameters), methods (with defaults), backends, presets and series."""
    from mctd_spectral import list_series

    from mctd_eval.backends import BACKENDS
    from mctd_eval.config import PRESETS
    from mctd_eval.methods import FAMILIES
    from mctd_eval.tasks import BROKEN, TASKS

    info = {
        "tasks": {
            n: {
                "description": t.description,
                "family": t.family,
                "methods": list(FAMILIES[t.family]),
                "params": t.default_params(),
            }
            for n, t in TASKS.items()
        },
        "methods": {
            n: {"budgeted": m.budgeted, "description": m.description, "params": m.defaults}
            for n, m in FAMILIES["lm"].items()
        },
        "diffusion_methods": {
            n: {"budgeted": m.budgeted, "description": m.description, "params": m.defaults}
            for n, m in FAMILIES["diffusion"].items()
        },
        "maze_methods": {
            n: {"budgeted": m.budgeted, "description": m.description, "params": m.defaults}
            for n, m in FAMILIES["maze"].items()
        },
        "image_methods": {
            n: {"budgeted": m.budgeted, "description": m.description, "params": m.defaults}
            for n, m in FAMILIES["image"].items()
        },
        "backends": list(BACKENDS),
        "presets": PRESETS,
        "series": list_series(),
        "broken_tasks": dict(BROKEN),
    }
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo("tasks:")
    for n, t in info["tasks"].items():
        typer.echo(
            f"  {n} ({t['family']}): {t['description']}\n    methods: {', '.join(t['methods'])}"
            f"\n    params: {json.dumps(t['params'])}"
        )
    for title, key in (
        ("methods (language-model tasks)", "methods"),
        ("methods (diffusion tasks; NFE = denoiser evaluations per element)", "diffusion_methods"),
        ("methods (maze tasks; budget = MCTD expansions)", "maze_methods"),
        ("methods (image tasks; NFE = UNet evaluations per element)", "image_methods"),
    ):
        typer.echo(f"{title}:")
        for n, m in info[key].items():
            budget = "expansion budget" if key == "maze_methods" else "NFE budget"
            kind = budget if m["budgeted"] else "natural cost"
            typer.echo(f"  {n} ({kind}): {m['description']}\n    params: {json.dumps(m['params'])}")
    typer.echo(f"backends: {', '.join(info['backends'])}")
    for n, p in PRESETS.items():
        typer.echo(f"preset {n}: {json.dumps(p)}")
    typer.echo(
        f"forecast series: {', '.join(info['series'])}, statsmodels:DATASET:COLUMN, csv:PATH:COLUMN"
    )
    for why in BROKEN.values():
        typer.echo(f"broken task plug-in: {why}")


def main() -> None:
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
