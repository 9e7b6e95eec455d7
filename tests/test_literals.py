"""literals: answers written into generated code parse back exactly and are already formatted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from asgiforge.literals import py_assignment

RUFF = Path(sys.executable).parent / "ruff"
PREFIX = len('DESCRIPTION = ""')
VALUES = [
    "short",
    "x" * (100 - PREFIX),  # exactly 100 columns: one line
    "x" * (101 - PREFIX),  # 101 columns: wrapped
    "y" * (100 - 6),  # wrapped, and fits the wrapped line exactly
    "y" * (100 - 5),  # too long even when wrapped: stays on one line
    "y" * 400,
    "🚀" * 40 + "wide characters count twice",
    "{{ 7*7 }} \"double\" 'single' \\back\\slash\nsecond line </p><script>x</script>" * 2,
]


def test_assignments_parse_back_and_pass_ruff_format(tmp_path: Path) -> None:
    for index, value in enumerate(VALUES):
        source = py_assignment("DESCRIPTION", value) + "\n"
        namespace: dict[str, object] = {}
        exec(compile(source, f"v{index}.py", "exec"), namespace)
        assert namespace["DESCRIPTION"] == value
        (tmp_path / f"v{index}.py").write_text(source, encoding="utf-8")
    result = subprocess.run(
        [str(RUFF), "format", "--no-cache", "--check", "--line-length", "100", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("value", "lines"),
    [("x" * (100 - PREFIX), 1), ("x" * (101 - PREFIX), 3), ("y" * 94, 3), ("y" * 95, 1)],
)
def test_the_line_length_boundary(value: str, lines: int) -> None:
    assert py_assignment("DESCRIPTION", value).count("\n") + 1 == lines
