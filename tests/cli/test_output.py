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
