"""Path patterns: `/users/{id:int}` compiled once into a regex, a format string and convertors.

Why a module of its own: every route class compiles its pattern at construction and converts the
matched text on each request, and `url_path_for` fills the format string back in; none of that
depends on which route class is asking. `routing` re-exports `compile_path` and `replace_params`
(Starlette's public names), so users keep importing them from `asgiforge.runtime.routing`.

An unknown convertor or a repeated parameter is refused here, when the route table is built, with
a `ValueError` naming the problem. Braces that are not a parameter stay literal text, as in
Starlette (frameworks rely on it for OpenAPI callback paths such as `{$callback_url}`), with a
`PathPatternWarning` when they look like a mistyped parameter.
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from typing import Any

from asgiforge.runtime.convertors import CONVERTOR_TYPES, Convertor

PARAM_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")
# A placeholder in a format string (`/users/{id}`), which is what `replace_params` fills in.
PARAM_FORMAT_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)}")
# An OpenAPI runtime expression such as `{$request.body#/callbackUrl}`: literal text by design
# (frameworks declare callback routes with it), so it is kept without a warning.
_RUNTIME_EXPRESSION = re.compile(r"{\$[^{}]*}")

# (parameter name, convertor.convert) pairs, built once per route for the per-request conversion.
ParamConverters = tuple[tuple[str, Callable[[str], Any]], ...]


class PathPatternWarning(UserWarning):
    """A route path has a `{` or `}` that is not a `{name}` / `{name:type}` parameter.

    Starlette keeps such text literally (the route matches the braces as typed); so do we, but
    since it is most often a typo (`{user-id}`, `{id`) the route table says so when built.
    """


def _parameters(path: str) -> tuple[list[tuple[str, str, Convertor[Any]]], str]:
    """`path`'s parameters as `(literal text before it, name, convertor)`, and the text after.

    The one place that reads the `{name:type}` syntax: `compile_path` builds routes from it,
    `path_pattern` the patterns `asgiforge routes --check` compares.
    """
    found = []
    idx = 0
    for match in PARAM_REGEX.finditer(path):
        name, type_suffix = match.groups("str")
        type_name = type_suffix.lstrip(":")
        convertor = CONVERTOR_TYPES.get(type_name)
        if convertor is None:
            known = ", ".join(sorted(CONVERTOR_TYPES))
            raise ValueError(
                f"Unknown path convertor {type_name!r} in {path!r}. Known convertors: {known}. "
                "Register custom ones with register_url_convertor() before building routes."
            )
        found.append((path[idx : match.start()], name, convertor))
        idx = match.end()
    return found, path[idx:]


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile `/users/{id:int}` into (regex, format string `/users/{id}`, convertors).

    A path not starting with `/` is a host pattern (for `Host`): its `:port` is ignored and it
    matches case-insensitively. Raises `ValueError` for an unknown convertor or a parameter used
    twice. A `{`/`}` that is not a parameter stays literal text, as in Starlette, with a
    `PathPatternWarning` (none for OpenAPI runtime expressions like `{$callback_url}`).
    """
    is_host = not path.startswith("/")
    regex_parts = ["^"]
    format_parts: list[str] = []
    convertors: dict[str, Convertor[Any]] = {}
    duplicates: set[str] = set()
    parameters, tail = _parameters(path)
    for literal, name, convertor in parameters:
        regex_parts.append(re.escape(literal))
        regex_parts.append(f"(?P<{name}>{convertor.regex})")
        format_parts.append(literal)
        format_parts.append("{" + name + "}")
        if name in convertors:
            duplicates.add(name)
        convertors[name] = convertor
    if duplicates:
        names = ", ".join(sorted(duplicates))
        ending = "s" if len(duplicates) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path}")
    format_parts.append(tail)
    path_format = "".join(format_parts)
    _warn_stray_braces(path, path_format)
    if is_host:
        # The port never takes part in host matching (see `Host`); an IP literal keeps its `:`s.
        hostname = tail if tail.endswith("]") else tail.rsplit(":", 1)[0]
        regex_parts.append(re.escape(hostname) + "$")
        # Host names are case-insensitive (RFC 9110, section 4.2.3).
        return re.compile("".join(regex_parts), re.IGNORECASE), path_format, convertors
    regex_parts.append(re.escape(tail) + "$")
    return re.compile("".join(regex_parts)), path_format, convertors


def path_pattern(path: str) -> re.Pattern[str]:
    """The paths a route path (or a mount prefix joined with a child's path) matches.

    The same regex `compile_path` builds, with plain groups, so a parameter name may repeat (a
    Mount's `{id}` and its child's); no checks, no warnings. Raises `ValueError` for an unknown
    convertor.
    """
    parameters, tail = _parameters(path)
    parts = [f"{re.escape(literal)}(?:{c.regex})" for literal, _, c in parameters]
    parts.append(re.escape(tail))
    return re.compile("".join(parts))


def _warn_stray_braces(path: str, path_format: str) -> None:
    literal = PARAM_FORMAT_REGEX.sub("", _RUNTIME_EXPRESSION.sub("", path_format))
    if "{" in literal or "}" in literal:
        warnings.warn(
            f"Route path {path!r} has a '{{' or '}}' that is not a path parameter; it is matched "
            "as literal text. Parameters look like {name} or {name:type}, where name is an "
            "identifier (letters, digits, underscore).",
            PathPatternWarning,
            stacklevel=_caller_stacklevel(),
        )


def _caller_stacklevel() -> int:
    """The stack level of the first frame outside the runtime: the line that built the route."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
        "asgiforge.runtime."
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def replace_params(
    path: str, param_convertors: dict[str, Convertor[Any]], path_params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill the `{name}` placeholders of a format string; return the result and unused params.

    Placeholders without a value stay as they are (a Mount's `{tenant}` when only a child's
    parameters are given, as in Starlette). Each placeholder is filled once, from the format
    string itself, so a value that looks like a placeholder (`"{id}"`) is never filled again.
    """
    if not path_params:
        return path, {}
    remaining = dict(path_params)
    parts = PARAM_FORMAT_REGEX.split(path)
    for i in range(1, len(parts), 2):
        key = parts[i]
        if key in remaining:
            parts[i] = param_convertors[key].to_string(remaining.pop(key))
        else:
            parts[i] = "{" + key + "}"
    return "".join(parts), remaining


def param_converters(
    convertors: dict[str, Convertor[Any]], skip: str | None = None
) -> ParamConverters:
    """The `(name, convert)` pairs `convert_params` runs, leaving out the parameter `skip`."""
    return tuple((key, c.convert) for key, c in convertors.items() if key != skip)


def convert_params(groups: dict[str, str], converters: ParamConverters) -> dict[str, Any] | None:
    """Convert matched text to values; None when a convertor rejects it (so: no match)."""
    try:
        return {key: convert(groups[key]) for key, convert in converters}
    except ValueError:
        return None
