"""cli.output: errors are one plain line on stderr; one console per stream."""

from __future__ import annotations

import re

import pytest

from asgiforge.cli.output import err, out, print_error

# Colour codes, should FORCE_COLOR be set where the tests run; the text is what is checked.
SGR = re.compile(r"\x1b\[[0-9;]*m")


def printed(capsys: pytest.CaptureFixture[str], message: str) -> tuple[str, str]:
    print_error(message)
    captured = capsys.readouterr()
    return SGR.sub("", captured.out), SGR.sub("", captured.err)


def test_one_line_on_stderr_and_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    stdout, stderr = printed(capsys, "cannot listen on 127.0.0.1:80")
    assert stdout == ""
    assert stderr == "error: cannot listen on 127.0.0.1:80\n"


@pytest.mark.parametrize(
    "message",
    [
        "first line\nsecond line\nthird line",
        "first line\r\nsecond line",
        "\n\n  first line\nsecond line\n",
    ],
    ids=["lf", "crlf", "leading-blank-lines"],
)
def test_multi_line_message_prints_its_first_line_only(
    capsys: pytest.CaptureFixture[str], message: str
) -> None:
    _, stderr = printed(capsys, message)
    assert stderr == "error: first line\n"


def test_long_message_is_not_wrapped(capsys: pytest.CaptureFixture[str]) -> None:
    message = "x" * 500
    _, stderr = printed(capsys, message)
    assert stderr == f"error: {message}\n"


@pytest.mark.parametrize(
    "message",
    [
        "[red]x[/]",
        "[bold]not bold[/bold] and [link=http://evil]click[/link]",
        "unclosed [/] tag",
        ":warning: stays text",
        "path C:\\new\\[temp]",
    ],
    ids=["style", "bold-and-link", "stray-closing-tag", "emoji-code", "backslash-brackets"],
)
def test_message_is_data_not_markup(capsys: pytest.CaptureFixture[str], message: str) -> None:
    _, stderr = printed(capsys, message)
    assert stderr == f"error: {message}\n"


@pytest.mark.parametrize("message", ["", "   ", "\n\n"], ids=["empty", "spaces", "newlines"])
def test_empty_message_still_says_something(
    capsys: pytest.CaptureFixture[str], message: str
) -> None:
    _, stderr = printed(capsys, message)
    assert stderr == "error: unknown error\n"


def test_terminal_escape_sequences_in_the_message_are_not_emitted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, stderr = printed(capsys, "no module 'app\x1b[2J\x1b]0;title\x07'")
    assert "\x1b" not in stderr


def test_consoles_are_cached_one_per_stream() -> None:
    assert out() is out()
    assert err() is err()
    assert out() is not err()
    assert err().stderr is True
    assert out().stderr is False


def test_out_console_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    out().print("table row")
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "table row" in captured.out


@pytest.mark.parametrize("command", ["new", "routes", "update", "dev"])
def test_a_commands_help_is_wrapped_by_the_terminal_not_by_the_docstring(command: str) -> None:
    """`asgiforge COMMAND --help` at 80 columns: no prose line ends before the terminal's edge
    while the next word would still have fitted (the docstrings are wrapped at 100)."""
    import itertools
    import os
    import sys
    from pathlib import Path

    from tests.harness import run_bounded

    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "80", "NO_COLOR": "1"}
    result = run_bounded([sys.executable, "-m", "asgiforge", command, "--help"], env=env)
    assert result.returncode == 0, result.stderr
    prose = result.stdout.split("╭")[0].splitlines()
    paragraph_lines = [line.strip() for line in prose if line.strip()][1:]  # after Usage:
    assert len(paragraph_lines) >= 2, result.stdout
    for line, following in itertools.pairwise(prose):
        if line.strip() and following.strip() and not line.strip().startswith("Usage:"):
            next_word = following.split()[0]
            assert len(line.rstrip()) + 1 + len(next_word) > 80 - 1, (line, following)
