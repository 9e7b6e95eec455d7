"""Jinja2Templates as an app uses it: files on disk, `url_for` in templates, context processors."""

from __future__ import annotations

from pathlib import Path

import jinja2
import pytest

from asgiforge.runtime.applications import App
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.requests import Request
from asgiforge.runtime.routing import Mount, Route
from asgiforge.runtime.templating import Jinja2Templates
from asgiforge.runtime.testclient import TestClient


@pytest.fixture
def template_dir(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text(
        "<h1>Hello {{ name }}</h1><a href=\"{{ url_for('user', user_id=7) }}\">me</a>"
    )
    (tmp_path / "plain.html").write_text("value={{ value }}")
    (tmp_path / "proc.html").write_text("{{ site }}|{{ request.url.path }}")
    return tmp_path


def test_template_response_renders_and_exposes_template_and_context(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)

    async def home(request: Request) -> object:
        return templates.TemplateResponse(request, "index.html", {"name": "World"})

    async def user(request: Request) -> None:
        raise AssertionError("never called")

    app = App(routes=[Route("/", home), Route("/users/{user_id:int}", user, name="user")])
    response = TestClient(app).get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == '<h1>Hello World</h1><a href="http://testserver/users/7">me</a>'
    assert response.template.name == "index.html"  # type: ignore[attr-defined]
    assert response.context["name"] == "World"  # type: ignore[attr-defined]
    assert isinstance(response.context["request"], Request)  # type: ignore[attr-defined]


def test_url_for_respects_mounts(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=str(template_dir))

    async def home(request: Request) -> object:
        return templates.TemplateResponse(request, "index.html", {"name": "x"})

    async def user(request: Request) -> None:
        raise AssertionError("never called")

    app = App(
        routes=[Mount("/api", routes=[Route("/", home), Route("/u/{user_id}", user, name="user")])]
    )
    assert 'href="http://testserver/api/u/7"' in TestClient(app).get("/api/").text


def test_autoescape_is_on(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)

    async def page(request: Request) -> object:
        return templates.TemplateResponse(request, "plain.html", {"value": "<script>x</script>"})

    text = TestClient(App(routes=[Route("/", page)])).get("/").text
    assert text == "value=&lt;script&gt;x&lt;/script&gt;"


def test_status_headers_media_type_and_background(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)
    ran: list[str] = []

    async def page(request: Request) -> object:
        return templates.TemplateResponse(
            request,
            "plain.html",
            {"value": 1},
            status_code=201,
            headers={"x-extra": "yes"},
            media_type="text/plain",
            background=BackgroundTask(ran.append, "done"),
        )

    response = TestClient(App(routes=[Route("/", page)])).get("/")
    assert response.status_code == 201
    assert response.headers["x-extra"] == "yes"
    assert response.headers["content-type"].startswith("text/plain")
    assert ran == ["done"]


def test_context_processors(template_dir: Path) -> None:
    def site(request: Request) -> dict[str, str]:
        return {"site": f"Example on {request.url.hostname}"}

    templates = Jinja2Templates(directory=template_dir, context_processors=[site])

    async def page(request: Request) -> object:
        return templates.TemplateResponse(request, "proc.html")

    response = TestClient(App(routes=[Route("/p", page)])).get("/p")
    assert response.text == "Example on testserver|/p"


def test_async_context_processor_is_refused(template_dir: Path) -> None:
    async def processor(request: Request) -> dict[str, str]:
        return {}

    with pytest.raises(TypeError, match="non-async"):
        Jinja2Templates(directory=template_dir, context_processors=[processor])  # type: ignore[list-item]


def test_env_instead_of_directory() -> None:
    env = jinja2.Environment(loader=jinja2.DictLoader({"t.html": "{{ a }}"}), autoescape=True)
    templates = Jinja2Templates(env=env)
    assert templates.env is env
    assert "url_for" in env.globals

    async def page(request: Request) -> object:
        return templates.TemplateResponse(request, "t.html", {"a": "<b>"})

    assert TestClient(App(routes=[Route("/", page)])).get("/").text == "&lt;b&gt;"


def test_directory_or_env_exactly_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Jinja2Templates()
    with pytest.raises(ValueError, match="exactly one"):
        Jinja2Templates(directory=tmp_path, env=jinja2.Environment(autoescape=True))
    with pytest.raises(ValueError, match="Environment options"):
        Jinja2Templates(env=jinja2.Environment(autoescape=True), trim_blocks=True)


def test_env_options_apply_to_the_built_environment(tmp_path: Path) -> None:
    templates = Jinja2Templates(directory=tmp_path, undefined=jinja2.StrictUndefined)
    assert templates.env.undefined is jinja2.StrictUndefined
    assert templates.env.autoescape is True


def test_old_style_call_still_works_but_warns(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)

    async def page(request: Request) -> object:
        with pytest.warns(DeprecationWarning, match="TemplateResponse"):
            return templates.TemplateResponse("plain.html", {"request": request, "value": 3})

    assert TestClient(App(routes=[Route("/", page)])).get("/").text == "value=3"


def test_old_style_without_request_is_a_clear_error(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match='"request"'):
        templates.TemplateResponse("plain.html", {"value": 3})


def test_missing_template_raises(template_dir: Path) -> None:
    templates = Jinja2Templates(directory=template_dir)
    with pytest.raises(jinja2.TemplateNotFound):
        templates.get_template("nope.html")
