"""Path patterns: compile_path, replace_params and the per-request parameter conversion."""

from __future__ import annotations

from asgiforge.runtime._paths import compile_path, convert_params, param_converters, replace_params


def test_compile_path_builds_regex_format_and_convertors() -> None:
    regex, fmt, convertors = compile_path("/users/{user_id:int}/files/{rest:path}")
    assert fmt == "/users/{user_id}/files/{rest}"
    assert set(convertors) == {"user_id", "rest"}
    found = regex.match("/users/12/files/a/b.txt")
    assert found is not None
    assert found.groupdict() == {"user_id": "12", "rest": "a/b.txt"}
    assert regex.match("/users/x/files/a") is None


def test_compile_path_host_ignores_port() -> None:
    regex, fmt, _ = compile_path("{sub}.example.org:8000")
    assert fmt == "{sub}.example.org:8000"
    assert regex.match("api.example.org") is not None


def test_replace_params_takes_starlettes_keyword_names() -> None:
    _, _, convertors = compile_path("/users/{user_id:int}")
    path, remaining = replace_params(
        path="/users/{user_id}", param_convertors=convertors, path_params={"user_id": 7, "x": 1}
    )
    assert (path, remaining) == ("/users/7", {"x": 1})


def test_convert_params_returns_none_when_a_convertor_rejects_the_text() -> None:
    _, _, convertors = compile_path("/files/{name}/{n:int}/{rest:path}")
    converters = param_converters(convertors, skip="rest")
    assert [name for name, _ in converters] == ["name", "n"]
    assert convert_params({"name": "a", "n": "7", "rest": "x"}, converters) == {"name": "a", "n": 7}
    assert convert_params({"name": "a", "n": "seven", "rest": "x"}, converters) is None
