"""Path patterns: `/users/{id:int}` compiled once into a regex, a format string and convertors.

Why a module of its own: every route class compiles its pattern at construction and converts the
matched text on each request, and `url_path_for` fills the format string back in; none of that
depends on which route class is asking. `routing` re-exports `compile_path` and `replace_params`
(Starlette's public names), so users keep importing them from `asgiforge.runtime.routing`.

A malformed pattern is refused here, when the route table is built, with a `ValueError` naming
the problem, rather than producing a route that silently never matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from asgiforge.runtime.convertors import CONVERTOR_TYPES, Convertor

PARAM_REGEX = re.compile(r"{([a-zA-Z_][a-zA-Z0-9_]*)(:[a-zA-Z_][a-zA-Z0-9_]*)?}")

# (parameter name, convertor.convert) pairs, built once per route for the per-request conversion.
ParamConverters = tuple[tuple[str, Callable[[str], Any]], ...]


def compile_path(path: str) -> tuple[re.Pattern[str], str, dict[str, Convertor[Any]]]:
    """Compile `/users/{id:int}` into (regex, format string `/users/{id}`, convertors).

    A path not starting with `/` is a host pattern (for `Host`): its `:port` is ignored and it
    matches case-insensitively. Raises `ValueError` for an unknown convertor, a parameter used
    twice, or a `{`/`}` that is not a valid `{name}` / `{name:type}` parameter.
    """
    is_host = not path.startswith("/")
    regex_parts = ["^"]
    format_parts: list[str] = []
    convertors: dict[str, Convertor[Any]] = {}
    duplicates: set[str] = set()
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
        literal = path[idx : match.start()]
        _check_literal(literal, path)
        regex_parts.append(re.escape(literal))
        regex_parts.append(f"(?P<{name}>{convertor.regex})")
        format_parts.append(literal)
        format_parts.append("{" + name + "}")
        if name in convertors:
            duplicates.add(name)
        convertors[name] = convertor
        idx = match.end()
    if duplicates:
        names = ", ".join(sorted(duplicates))
        ending = "s" if len(duplicates) > 1 else ""
        raise ValueError(f"Duplicated param name{ending} {names} at path {path!r}")
    tail = path[idx:]
    _check_literal(tail, path)
    if is_host:
        hostname = tail.split(":")[0]
        regex_parts.append(re.escape(hostname) + "$")
        return (
            re.compile("".join(regex_parts), re.IGNORECASE),
            "".join(format_parts) + tail,
            convertors,
        )
    regex_parts.append(re.escape(tail) + "$")
    format_parts.append(tail)
    return re.compile("".join(regex_parts)), "".join(format_parts), convertors


def _check_literal(literal: str, path: str) -> None:
    if "{" in literal or "}" in literal:
        raise ValueError(
            f"Malformed path parameter in {path!r}: use {{name}} or {{name:type}} where name is "
            "an identifier (letters, digits, underscore)."
        )


def replace_params(
    path: str, param_convertors: dict[str, Convertor[Any]], path_params: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Fill `{name}` placeholders of a format string; return the result and unused params."""
    remaining = dict(path_params)
    for key, value in path_params.items():
        placeholder = "{" + key + "}"
        if placeholder in path:
            path = path.replace(placeholder, param_convertors[key].to_string(value))
            del remaining[key]
    return path, remaining


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
