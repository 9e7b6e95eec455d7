"""OpenAPI from docstrings, the way Starlette's docs show it, served by a real App."""

from __future__ import annotations

import sys
from typing import Any

import pytest
import yaml

from asgiforge.runtime.applications import App
from asgiforge.runtime.endpoints import HTTPEndpoint
from asgiforge.runtime.requests import Request
from asgiforge.runtime.responses import JSONResponse, Response
from asgiforge.runtime.routing import Host, Mount, Route, Router, WebSocketRoute
from asgiforge.runtime.schemas import EndpointInfo, OpenAPIResponse, SchemaGenerator
from asgiforge.runtime.testclient import TestClient

schemas = SchemaGenerator({"openapi": "3.0.0", "info": {"title": "Example API", "version": "1.0"}})


def list_users(request: Request) -> Response:
    """
    responses:
      200:
        description: A list of users.
        examples:
          [{"username": "tom"}, {"username": "lucy"}]
    """
    return JSONResponse([])


def create_user(request: Request) -> Response:
    """
    Create a user (this prose is not part of the schema).
    ---
    responses:
      200:
        description: A user.
        examples:
          {"username": "tom"}
    """
    return JSONResponse({})


def get_user(request: Request) -> Response:
    """responses:
    200:
      description: One user.
    """
    return JSONResponse({})


def undocumented(request: Request) -> Response:
    return JSONResponse({})


def prose_only(request: Request) -> Response:
    """Just a sentence."""
    return JSONResponse({})


class Organisations(HTTPEndpoint):
    def get(self, request: Request) -> Response:
        """
        responses:
          200:
            description: A list of organisations.
        """
        return JSONResponse([])

    def post(self, request: Request) -> Response:
        """
        responses:
          200:
            description: An organisation.
        """
        return JSONResponse({})


async def ws(websocket: Any) -> None:
    """responses: {200: {description: never listed}}"""


def openapi_schema(request: Request) -> Response:
    return schemas.OpenAPIResponse(request=request)


subapp = Router(routes=[Route("/items/{item_id:int}", get_user, methods=["GET"])])

app = App(
    routes=[
        Route("/users", endpoint=list_users, methods=["GET", "HEAD"]),
        Route("/users", endpoint=create_user, methods=["POST"]),
        Route("/users/{id:int}", endpoint=get_user, methods=["GET"]),
        Route("/orgs", endpoint=Organisations),
        Route("/undocumented", endpoint=undocumented),
        Route("/prose", endpoint=prose_only),
        Route("/hidden", endpoint=list_users, include_in_schema=False),
        WebSocketRoute("/ws", endpoint=ws),
        Mount("/v2/{version}", app=subapp),
        Host("api.example.org", app=Router(routes=[Route("/hosted", get_user)])),
        Route("/schema", endpoint=openapi_schema, include_in_schema=False),
    ]
)

EXPECTED = {
    "openapi": "3.0.0",
    "info": {"title": "Example API", "version": "1.0"},
    "paths": {
        "/users": {
            "get": {
                "responses": {
                    200: {
                        "description": "A list of users.",
                        "examples": [{"username": "tom"}, {"username": "lucy"}],
                    }
                }
            },
            "post": {
                "responses": {200: {"description": "A user.", "examples": {"username": "tom"}}}
            },
        },
        "/users/{id}": {"get": {"responses": {200: {"description": "One user."}}}},
        "/orgs": {
            "get": {"responses": {200: {"description": "A list of organisations."}}},
            "post": {"responses": {200: {"description": "An organisation."}}},
        },
        "/v2/{version}/items/{item_id}": {
            "get": {"responses": {200: {"description": "One user."}}}
        },
        "/hosted": {"get": {"responses": {200: {"description": "One user."}}}},
    },
}


def test_schema_from_docstrings() -> None:
    assert schemas.get_schema(routes=app.routes) == EXPECTED


def test_endpoints_listed_without_head_or_websockets() -> None:
    endpoints = schemas.get_endpoints(app.routes)
    assert EndpointInfo("/users", "get", list_users) in endpoints
    assert all(e.http_method != "head" for e in endpoints)
    assert all(e.path not in ("/ws", "/hidden", "/schema") for e in endpoints)
    assert EndpointInfo("/undocumented", "get", undocumented) in endpoints


def test_schema_endpoint_serves_yaml() -> None:
    response = TestClient(app).get("/schema")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.oai.openapi")
    assert yaml.safe_load(response.text) == EXPECTED


def test_base_schema_is_not_mutated() -> None:
    base = {"openapi": "3.0.0", "paths": {"/x": {"get": {"summary": "kept"}}}}
    generator = SchemaGenerator(base)
    schema = generator.get_schema(app.routes)
    assert schema["paths"]["/x"] == {"get": {"summary": "kept"}}
    assert "/users" in schema["paths"]
    assert base == {"openapi": "3.0.0", "paths": {"/x": {"get": {"summary": "kept"}}}}


def test_invalid_yaml_docstring_names_the_endpoint() -> None:
    def broken(request: Request) -> Response:
        """
        responses: [unclosed
        """
        return JSONResponse({})

    with pytest.raises(ValueError, match=r"broken.*not valid YAML"):
        schemas.get_schema([Route("/broken", broken)])


def test_openapi_response_requires_a_dict() -> None:
    assert OpenAPIResponse({"a": 1}).body == b"a: 1\n"
    with pytest.raises(TypeError, match="dict"):
        OpenAPIResponse(["not", "a", "dict"])


def test_missing_pyyaml_is_a_clear_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match="pip install pyyaml"):
        schemas.get_schema(app.routes)
    with pytest.raises(ImportError, match="pip install pyyaml"):
        OpenAPIResponse({"a": 1})


class Searchable(HTTPEndpoint):
    def query(self, request: Request) -> Response:
        """
        responses:
          200:
            description: Matching items.
        """
        return JSONResponse([])  # pragma: no cover - only the docstring is read


def search(request: Request) -> Response:
    """
    responses:
      200:
        description: Search results.
    """
    return JSONResponse([])  # pragma: no cover - only the docstring is read


@pytest.mark.parametrize(("version", "listed"), [("3.2.0", True), ("3.1.2", False), ("", False)])
def test_query_operations_only_from_openapi_3_2(version: str, listed: bool) -> None:
    routes = [Route("/items", Searchable), Route("/search", search, methods=["QUERY"])]
    generator = SchemaGenerator({"openapi": version, "info": {"title": "t", "version": "1"}})
    paths = generator.get_schema(routes)["paths"]
    assert ("query" in paths.get("/items", {})) is listed
    assert ("query" in paths.get("/search", {})) is listed
