"""Jinja2 templates rendered into HTML responses, with `url_for` available inside templates.

Autoescaping is on by default, so context values are data, never markup. The response remembers
its `template` and `context`, and tells the TestClient about them through the
`http.response.debug` extension, so tests can assert on what was rendered rather than on HTML.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

import jinja2

from asgiforge.runtime._utils import is_async_callable
from asgiforge.runtime.background import BackgroundTask
from asgiforge.runtime.datastructures import URL
from asgiforge.runtime.responses import HTMLResponse
from asgiforge.runtime.types import Receive, Scope, Send

if TYPE_CHECKING:
    from asgiforge.runtime.requests import Request

__all__ = ["Jinja2Templates"]

ContextProcessor = Callable[["Request"], dict[str, Any]]


class _TemplateResponse(HTMLResponse):
    """An HTMLResponse that keeps the template and context it was rendered from."""

    def __init__(
        self,
        template: jinja2.Template,
        context: dict[str, Any],
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> None:
        self.template = template
        self.context = context
        super().__init__(template.render(context), status_code, headers, media_type, background)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions")
        if extensions and "http.response.debug" in extensions:
            await send(
                {
                    "type": "http.response.debug",
                    "info": {"template": self.template, "context": self.context},
                }
            )
        await super().__call__(scope, receive, send)


@jinja2.pass_context
def _url_for(context: Mapping[str, Any], name: str, /, **path_params: Any) -> URL:
    """`{{ url_for('user', user_id=1) }}`: the request's `url_for`, so mounts and hosts apply."""
    request = context.get("request")
    if request is None:
        raise RuntimeError("url_for() in a template needs 'request' in the template context")
    return request.url_for(name, **path_params)  # type: ignore[no-any-return]


def _new_style(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str | None = None,
    background: BackgroundTask | None = None,
) -> dict[str, Any]:
    return locals()


def _old_style(
    name: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    media_type: str | None = None,
    background: BackgroundTask | None = None,
) -> dict[str, Any]:
    return locals()


class TemplatesConfigError(ValueError, AssertionError):
    """A `Jinja2Templates(...)` call that passes neither or both of `directory` and `env`.

    A ValueError (the kind of error it is), and also an AssertionError because Starlette asserts
    here and ported code may catch that; it is raised explicitly, so `python -O` keeps the check.
    """


class Jinja2Templates:
    """Templates from a `directory` (one path or several) or from a ready-made Jinja2 `env`.

    `context_processors` are plain functions `request -> dict` whose results are merged into every
    template's context. Extra keyword arguments configure the Environment built for `directory`.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None = None,
        *,
        context_processors: list[ContextProcessor] | None = None,
        env: jinja2.Environment | None = None,
        **env_options: Any,
    ) -> None:
        if (directory is None) == (env is None):
            raise TemplatesConfigError(
                "either 'directory' or 'env' arguments must be passed "
                "(Jinja2Templates() takes exactly one of them)"
            )
        if env is not None and env_options:
            raise ValueError(
                "Jinja2Templates(env=...) takes no Environment options "
                f"({', '.join(sorted(env_options))}): configure the Environment you pass instead"
            )
        self.context_processors = list(context_processors or [])
        for processor in self.context_processors:
            # Rendering is synchronous: an async processor would put a coroutine into the context.
            if not callable(processor) or is_async_callable(processor):
                raise TypeError(
                    f"context processor {processor!r} must be a plain (non-async) function "
                    "taking the request and returning a dict"
                )
        if env is None:
            env_options.setdefault("loader", jinja2.FileSystemLoader(directory))  # type: ignore[arg-type]
            env_options.setdefault("autoescape", True)
            env = jinja2.Environment(**env_options)  # noqa: S701 (autoescape defaults to True above)
        self.env = env
        self.env.globals.setdefault("url_for", _url_for)

    def get_template(self, name: str) -> jinja2.Template:
        return self.env.get_template(name)

    @overload
    def TemplateResponse(
        self,
        request: Request,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse: ...

    @overload
    def TemplateResponse(
        self,
        name: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
        background: BackgroundTask | None = None,
    ) -> _TemplateResponse: ...

    def TemplateResponse(self, *args: Any, **kwargs: Any) -> _TemplateResponse:
        """Render `name` with `context` (plus `request` and the context processors' values).

        The request comes first, as in current Starlette; the older `(name, {"request": ...})`
        form still works but warns.
        """
        if (args and isinstance(args[0], str)) or (not args and "request" not in kwargs):
            warnings.warn(
                "TemplateResponse(name, {'request': request}) is deprecated; "
                "use TemplateResponse(request, name, context).",
                DeprecationWarning,
                stacklevel=2,
            )
            params = _old_style(*args, **kwargs)
            context = dict(params["context"] or {})
            if "request" not in context:
                raise ValueError('TemplateResponse(name, context): context must include "request"')
            request = context["request"]
        else:
            params = _new_style(*args, **kwargs)
            request = params["request"]
            context = dict(params["context"] or {})
            context.setdefault("request", request)
        for processor in self.context_processors:
            context.update(processor(request))
        return _TemplateResponse(
            self.get_template(params["name"]),
            context,
            status_code=params["status_code"],
            headers=params["headers"],
            media_type=params["media_type"],
            background=params["background"],
        )
