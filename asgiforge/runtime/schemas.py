"""OpenAPI schemas assembled from the YAML written in endpoint docstrings, as Starlette does it.

Each documented endpoint's docstring (the part after a `---` line, if there is one) is YAML for
its OpenAPI operation; `SchemaGenerator(base_schema).get_schema(app.routes)` walks the routes,
through Mounts and Hosts, and merges them under `paths`. YAML is read with `safe_load` only.

PyYAML is not a dependency of asgiforge: it is imported when a docstring is parsed or a schema
rendered, and its absence is an ImportError that says what to install.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from asgiforge.runtime.responses import Response

if TYPE_CHECKING:
    from asgiforge.runtime.requests import Request

__all__ = ["BaseSchemaGenerator", "EndpointInfo", "OpenAPIResponse", "SchemaGenerator"]

# `{user_id:int}` → `{user_id}`: OpenAPI path templates have no converters.
_CONVERTER = re.compile(r":\w+}")
_CLASS_METHODS = ("get", "post", "put", "patch", "delete", "options", "query")
# OpenAPI has a `query` operation only from 3.2 on; an older schema must not carry one.
_OPENAPI_VERSION = re.compile(r"^(\d+)\.(\d+)")


def _supports_query(openapi_version: Any) -> bool:
    match = _OPENAPI_VERSION.match(str(openapi_version))
    return match is not None and (int(match[1]), int(match[2])) >= (3, 2)


def _yaml() -> Any:
    try:
        # import_module: PyYAML ships no type stubs and is not a dependency to add them for.
        yaml = importlib.import_module("yaml")
    except ImportError as exc:
        raise ImportError(
            "OpenAPI schemas from docstrings need PyYAML, which asgiforge does not install: "
            "pip install pyyaml"
        ) from exc
    return yaml


class OpenAPIResponse(Response):
    """A schema dict rendered as YAML with the OpenAPI media type."""

    media_type = "application/vnd.oai.openapi"

    def render(self, content: Any) -> bytes:
        if not isinstance(content, dict):
            raise TypeError(
                f"OpenAPIResponse expects the schema as a dict, got {type(content).__name__}"
            )
        dumped: str = _yaml().dump(content, default_flow_style=False)
        return dumped.encode("utf-8")


class EndpointInfo(NamedTuple):
    path: str
    http_method: str
    func: Callable[..., Any]


class BaseSchemaGenerator:
    """Walks routes and parses docstrings; subclasses decide how to build the schema."""

    def get_schema(self, routes: Sequence[Any]) -> dict[str, Any]:
        raise NotImplementedError()  # pragma: no cover

    def get_endpoints(self, routes: Sequence[Any]) -> list[EndpointInfo]:
        """Every (path, lowercase method, function) reachable through `routes`.

        Routes are recognised by shape, not class: anything with `.routes` (Mount, Host) is
        descended into under its `.path` (Host has none); an HTTP route is anything with
        `.endpoint`, `.methods` and a true `include_in_schema`. WebSocket routes have no
        `methods` and are skipped. HEAD is never listed: it mirrors GET.
        """
        endpoints: list[EndpointInfo] = []
        for route in routes:
            sub_routes = getattr(route, "routes", None)
            if sub_routes is not None:
                prefix = self._remove_converter(getattr(route, "path", "") or "")
                endpoints.extend(
                    EndpointInfo(prefix + sub.path, sub.http_method, sub.func)
                    for sub in self.get_endpoints(sub_routes)
                )
                continue
            if not getattr(route, "include_in_schema", False) or not hasattr(route, "methods"):
                continue
            endpoint = route.endpoint
            path = self._remove_converter(route.path)
            if inspect.isfunction(endpoint) or inspect.ismethod(endpoint):
                for method in sorted(route.methods or ["GET"]):
                    if method != "HEAD":
                        endpoints.append(EndpointInfo(path, method.lower(), endpoint))
            else:
                for method in _CLASS_METHODS:
                    handler = getattr(endpoint, method, None)
                    if handler is not None:
                        endpoints.append(EndpointInfo(path, method, handler))
        return endpoints

    def _remove_converter(self, path: str) -> str:
        return _CONVERTER.sub("}", path)

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        """The YAML after the last `---` of the docstring as a dict; {} if there is none."""
        docstring = func_or_method.__doc__
        if not docstring:
            return {}
        yaml = _yaml()
        # Not dedented: YAML accepts a uniformly indented block, and dedenting would flatten a
        # docstring whose first line starts at the quotes (`"""responses:`).
        try:
            parsed = yaml.safe_load(docstring.split("---")[-1])
        except yaml.YAMLError as exc:
            name = getattr(func_or_method, "__qualname__", repr(func_or_method))
            raise ValueError(f"The OpenAPI docstring of {name} is not valid YAML: {exc}") from exc
        if not isinstance(parsed, dict):
            return {}  # plain prose, not a schema
        return parsed

    def OpenAPIResponse(self, request: Request) -> Response:
        """The schema of the app serving `request`, as a response (for a `/schema` route)."""
        return OpenAPIResponse(self.get_schema(routes=request.app.routes))


class SchemaGenerator(BaseSchemaGenerator):
    """Builds `base_schema` (openapi, info...) plus one `paths` entry per documented endpoint."""

    def __init__(self, base_schema: Mapping[str, Any]) -> None:
        self.base_schema = base_schema

    def get_schema(self, routes: Sequence[Any]) -> dict[str, Any]:
        schema = dict(self.base_schema)
        paths: dict[str, Any] = {
            path: dict(operations) for path, operations in schema.get("paths", {}).items()
        }
        schema["paths"] = paths
        with_query = _supports_query(schema.get("openapi", ""))
        for endpoint in self.get_endpoints(routes):
            if endpoint.http_method == "query" and not with_query:
                continue
            parsed = self.parse_docstring(endpoint.func)
            if parsed:
                paths.setdefault(endpoint.path, {})[endpoint.http_method] = parsed
        return schema
