"""The CLI's refusals: one line, exit code 2, before any model is loaded."""

from __future__ import annotations

from mctd_chat import __version__
from mctd_chat.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def test_thought_model_is_refused_with_a_pointer() -> None:
    for args in (["--model", "thought:/tmp/x"], ["serve", "--model", "thought:/tmp/x"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2
        assert "does not serve thought models" in " ".join(r.output.split())


def test_bad_options_exit_2() -> None:
    r = runner.invoke(app, ["--method", "nope"])
    assert r.exit_code == 2 and "unknown method 'nope'" in r.output
    r = runner.invoke(app, ["--budget", "0"])
    assert r.exit_code == 2 and "budget must be an integer >= 1" in r.output
    r = runner.invoke(app, ["--backend", "jax"])
    assert r.exit_code == 2 and "unknown backend 'jax'" in r.output


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and __version__ in r.output
