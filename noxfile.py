"""Test, lint, typecheck and benchmark sessions.

Each test session syncs ONE package with its declared dependencies and its ``test`` group into the
session's virtualenv (``uv sync --package X --locked --exact``) and runs that package's tests, so a
test that needs an undeclared dependency fails. Pass package names to select some:
``nox -s tests-cpu -- mctd-tree mctd-spectral``.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["lint", "typecheck", "tests-cpu"]

ROOT = Path(__file__).parent
PACKAGES = sorted(p.name for p in (ROOT / "packages").iterdir() if (p / "pyproject.toml").exists())
APPS = (
    sorted(p.name for p in (ROOT / "apps").glob("*") if (p / "pyproject.toml").exists())
    if (ROOT / "apps").exists()
    else []
)
PROJECTS = {name: ROOT / "packages" / name for name in PACKAGES}
PROJECTS |= {f"mctd-{name}": ROOT / "apps" / name for name in APPS}
MARKERS = {
    "cpu": "not cuda and not mlx and not slow",
    "cuda": "cuda and not slow",
    "mlx": "mlx and not slow",
    "slow": "slow and not cuda and not mlx",
}


def _selected(session: nox.Session) -> list[str]:
    names = session.posargs or list(PROJECTS)
    unknown = [n for n in names if n not in PROJECTS]
    if unknown:
        session.error(f"unknown package(s) {unknown}; choose from {sorted(PROJECTS)}")
    return names


def _sync(session: nox.Session, project: str, *extra: str) -> None:
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install(
        "uv",
        "sync",
        "--package",
        project,
        "--group",
        "test",
        "--locked",
        "--exact",
        *extra,
        env=env,
        external=True,
    )


def _backend_extras(name: str, backend: str) -> list[str]:
    """``--extra mlx`` for the MLX session where a project keeps its MLX backend behind one."""
    meta = tomllib.loads((PROJECTS[name] / "pyproject.toml").read_text())
    extras = meta.get("project", {}).get("optional-dependencies", {})
    return ["--extra", "mlx"] if backend == "mlx" and "mlx" in extras else []


def _run_tests(session: nox.Session, backend: str) -> None:
    for name in _selected(session):
        tests = PROJECTS[name] / "tests"
        if not tests.exists():
            session.log(f"{name}: no tests folder, skipped")
            continue
        _sync(session, name, *_backend_extras(name, backend))
        # exit code 5 = no test selected by the marker (e.g. no CUDA test in a numpy package)
        # CI explores the same hypothesis examples on every run; locally they vary
        seed = ["--hypothesis-seed=0"] if os.environ.get("CI") else []
        session.run(
            "python",
            "-m",
            "pytest",
            str(tests),
            "-m",
            MARKERS[backend],
            "-q",
            *seed,
            success_codes=[0, 5],
            env={"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
        )


@nox.session(name="tests-cpu", venv_backend="uv")
def tests_cpu(session: nox.Session) -> None:
    """Each package's CPU tests, in a venv holding only that package and its test group."""
    _run_tests(session, "cpu")


@nox.session(name="tests-slow", venv_backend="uv")
def tests_slow(session: nox.Session) -> None:
    """The long tests (training runs, big real-model checks)."""
    _run_tests(session, "slow")


@nox.session(name="tests-cuda", venv_backend="uv")
def tests_cuda(session: nox.Session) -> None:
    """CUDA tests; skipped with a reason when no NVIDIA GPU is visible."""
    if (
        not shutil.which("nvidia-smi")
        or subprocess.run(["nvidia-smi", "-L"], capture_output=True, check=False).returncode
    ):
        session.skip("no CUDA device: nvidia-smi is missing or lists no GPU")
    _run_tests(session, "cuda")


@nox.session(name="tests-mlx", venv_backend="uv")
def tests_mlx(session: nox.Session) -> None:
    """MLX tests (Apple silicon, or Linux CPU through mlx[cpu])."""
    if platform.system() not in ("Darwin", "Linux"):
        session.skip(f"MLX has no backend on {platform.system()}")
    _run_tests(session, "mlx")


@nox.session(venv_backend="uv")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(venv_backend="uv")
def typecheck(session: nox.Session) -> None:
    """mypy over every package's source, with all packages installed."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install(
        "uv", "sync", "--all-packages", "--group", "typecheck", "--locked", env=env, external=True
    )
    for name in PROJECTS:
        src = PROJECTS[name] / "src"
        session.run("python", "-m", "mypy", str(src), "--no-incremental", external=False)


@nox.session(venv_backend="uv")
def bench(session: nox.Session) -> None:
    """Run the benchmarks under benchmarks/ (each prints ratios and writes JSON)."""
    env = {"UV_PROJECT_ENVIRONMENT": session.virtualenv.location}
    session.run_install("uv", "sync", "--all-packages", "--locked", env=env, external=True)
    scripts = session.posargs or sorted(str(p) for p in (ROOT / "benchmarks").glob("*.py"))
    for script in scripts:
        session.run("python", script)
