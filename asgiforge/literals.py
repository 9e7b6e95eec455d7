"""String literals for generated files: answers reach code as data, never as template source.

Templates embed user values through the `py` and `toml` Jinja filters, which emit quoted literals
that parse back to exactly the value: a description containing `{{ 7*7 }}`, quotes, backslashes
or newlines is written literally and the files still parse.
"""

from __future__ import annotations

import unicodedata


def py_literal(value: object) -> str:
    """A double-quoted Python string literal for `value` that parses back to exactly it."""
    parts = ['"']
    for ch in str(value):
        if ch in '"\\':
            parts.append("\\" + ch)
        elif ch == "\n":
            parts.append("\\n")
        elif ch == "\r":
            parts.append("\\r")
        elif ch == "\t":
            parts.append("\\t")
        elif ch.isprintable():
            parts.append(ch)
        else:
            parts.append(_code_escape(ch))
    parts.append('"')
    return "".join(parts)


def toml_literal(value: object) -> str:
    """A TOML basic string for `value`: quotes, backslashes and control characters escaped."""
    simple = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b"}
    parts = ['"']
    for ch in str(value):
        if ch in simple:
            parts.append(simple[ch])
        elif ch.isprintable():
            parts.append(ch)
        else:
            code = ord(ch)
            parts.append(f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    parts.append('"')
    return "".join(parts)


def _code_escape(ch: str) -> str:
    code = ord(ch)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _display_width(text: str) -> int:
    """Columns a formatter counts: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def py_assignment(name: str, value: object, line_length: int = 100) -> str:
    """`NAME = "value"` exactly as `ruff format` / black would write it.

    The formatter moves a string that overflows the line into parentheses on its own indented
    line, but only when it fits there; a string too long even for that stays on one line. Doing
    the same here means a generated file passes `ruff format --check` whatever the answer is.
    """
    literal = py_literal(value)
    statement = f"{name} = {literal}"
    if _display_width(statement) <= line_length or 4 + _display_width(literal) > line_length:
        return statement
    return f"{name} = (\n    {literal}\n)"
