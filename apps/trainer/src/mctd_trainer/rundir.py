"""Run directories: ``runs/<time>-<name>/`` with the resolved config saved as JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def new_run_dir(name: str, root: Path = Path("runs")) -> Path:
    """A fresh ``runs/<YYYYmmdd-HHMMSS>-<name>`` directory."""
    path = root / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def save_config(run_dir: Path, config: dict[str, Any]) -> Path:
    """Write ``config.json`` (atomically) into the run directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path, tmp = run_dir / "config.json", run_dir / ".config.json.tmp"
    tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def load_config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: is {run_dir} an mctd-train run directory?")
    return json.loads(path.read_text())
