"""The README's usage example runs as written (on the real default model)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path


def test_readme_usage_example_runs() -> None:
    text = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", text, re.S)
    assert code is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code.group(1), "README.md", "exec"), {})
    assert "Paris" in out.getvalue().splitlines()[0]
