"""`App`: the application class (Starlette's `Starlette`, under our name).

An App is a Router plus a middleware stack built once, on the first call (normally the lifespan
start-up):

    ServerErrorMiddleware  (outermost: 500 page, debug traceback)
    RequestBodyLimitMiddleware  (only with max_body_size=)
    ...user middleware, in the order given...
    ExceptionMiddleware    (HTTPException, WebSocketException, registered handlers)
    Router

With nothing between the first and the last layer, the two run as one `ErrorBoundary` (same
behaviour, one coroutine frame instead of two). Building it once keeps per-request work to the
calls themselves; the price is that middleware
cannot be added after the app has started, which is refused with a clear error instead of being
silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from asgiforge.runtime._error_boundary import ErrorBoundary
from asgiforge.runtime.datastructures import State, URLPath
from asgiforge.runtime.middleware import Middleware
from asgiforge.runtime.middleware.body_limit import (
    RequestBodyLimitMiddleware,
    validate_max_body_size,
)
from asgiforge.runtime.middleware.errors import ServerErrorMiddleware
from asgiforge.runtime.middleware.exceptions import ExceptionMiddleware
from asgiforge.runtime.routing import BaseRoute, Router
from asgiforge.runtime.types import ASGIApp, Lifespan, Receive, Scope, Send

__all__ = ["App"]


def _check_middleware(item: Any) -> None:
    try:
        cls, _args, _kwargs = item
    except (TypeError, ValueError):
        raise TypeError(
            f"App(middleware=...) takes Middleware(cls, ...) items, got {item!r}. "
            "Wrap it: Middleware(YourMiddleware, option=value)."
        ) from None
    if not callable(cls):
        raise TypeError(f"Middleware class {cls!r} is not callable.")


class App:
    """A Starlette-compatible application.

    `exception_handlers` maps status codes or exception classes to `handler(request, exc)`;
    a handler for `500` or `Exception` becomes ServerErrorMiddleware's handler (it sees errors
    after all other middleware). `lifespan(app)` is an async context manager (see
    `asgiforge.runtime.lifespan`). `max_body_size` caps every request body, in bytes (413 beyond
    it; `None`, the default, sets no cap); a Router, Mount or Route inside may set its own.

    As in Starlette, `debug`, `router`, `exception_handlers`, `user_middleware` and
    `middleware_stack` are plain attributes: a subclass may set them before (or instead of)
    calling `App.__init__`. Assigning `debug` after the stack was built rebuilds it, so the
    error pages follow.
    """

    # Built on the first call; a subclass need not call our __init__ before being called.
    middleware_stack: ASGIApp | None = None
    max_body_size: int | None = None

    def __init__(
        self,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, Callable[..., Any]] | None = None,
        lifespan: Lifespan[Any] | None = None,
        *,
        max_body_size: int | None = None,
    ) -> None:
        self.debug = debug
        self.state = State()
        self.router = Router(routes, lifespan=lifespan)
        validate_max_body_size(max_body_size)
        self.max_body_size = max_body_size
        self.exception_handlers: dict[Any, Callable[..., Any]] = dict(exception_handlers or {})
        self.user_middleware: list[Middleware] = list(middleware or ())
        for item in self.user_middleware:
            _check_middleware(item)
        self.middleware_stack: ASGIApp | None = None

    def __setattr__(self, name: str, value: Any) -> None:
        """A plain attribute store; `debug` changed after start-up also rebuilds the stack.

        Why here and not in a property: a property's setter runs before `__init__` has set
        anything when a subclass assigns `debug` first, and Starlette's `debug` is a plain
        attribute that code reads and writes freely.
        """
        object.__setattr__(self, name, value)
        if name == "debug" and self.middleware_stack is not None:
            object.__setattr__(self, "middleware_stack", self.build_middleware_stack())

    def build_middleware_stack(self) -> ASGIApp:
        debug = self.debug
        error_handler = None
        handlers: dict[Any, Callable[..., Any]] = {}
        for key, handler in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = handler
            else:
                handlers[key] = handler
        stack = [Middleware(ServerErrorMiddleware, handler=error_handler, debug=debug)]
        max_body_size = self.max_body_size
        if max_body_size is not None:
            stack.append(Middleware(RequestBodyLimitMiddleware, max_body_size=max_body_size))
        stack += [
            *self.user_middleware,
            Middleware(ExceptionMiddleware, handlers=handlers, debug=debug),
        ]
        app: ASGIApp = self.router
        if type(self.router).__call__ is Router.__call__:
            # Router.__call__ only forwards to its own stack: call that directly.
            app = self.router.middleware_stack
        if len(stack) == 2:
            # Nothing between the two default layers: run them in one frame (the common case).
            return ErrorBoundary(
                ExceptionMiddleware(app, handlers=handlers, debug=debug),
                handler=error_handler,
                debug=debug,
            )
        for cls, args, kwargs in reversed(stack):
            app = cls(app, *args, **kwargs)
        return app

    @property
    def routes(self) -> list[BaseRoute]:
        return self.router.routes

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        return self.router.url_path_for(name, **path_params)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self
        stack = self.middleware_stack
        if stack is None:
            stack = self.middleware_stack = self.build_middleware_stack()
        await stack(scope, receive, send)

    def _refuse_after_start(self, what: str) -> None:
        if self.middleware_stack is not None:
            raise RuntimeError(
                f"Cannot {what} after the application has started: the middleware stack is "
                "built once, on the first request or lifespan event. Pass it to App(...) or "
                "add it before serving."
            )

    def add_middleware(self, middleware_class: Any, *args: Any, **kwargs: Any) -> None:
        """Add a middleware *outside* those already added (Starlette's order)."""
        self._refuse_after_start(f"add middleware {getattr(middleware_class, '__name__', '')}")
        self.user_middleware.insert(0, Middleware(middleware_class, *args, **kwargs))

    def add_exception_handler(
        self,
        exc_class_or_status_code: int | type[BaseException],
        handler: Callable[..., Any],
    ) -> None:
        self._refuse_after_start("add an exception handler")
        self.exception_handlers[exc_class_or_status_code] = handler

    def add_route(
        self,
        path: str,
        route: Callable[..., Any],
        methods: Collection[str] | None = None,
        name: str | None = None,
        include_in_schema: bool = True,
    ) -> None:
        self.router.add_route(
            path, route, methods=methods, name=name, include_in_schema=include_in_schema
        )

    def add_websocket_route(
        self, path: str, route: Callable[..., Any], name: str | None = None
    ) -> None:
        self.router.add_websocket_route(path, route, name=name)

    def mount(self, path: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.mount(path, app=app, name=name)

    def host(self, host: str, app: ASGIApp, name: str | None = None) -> None:
        self.router.host(host, app=app, name=name)

    def describe(self, prefix: str = "", host: str | None = None) -> Any:
        """Every route, mounts flattened (for `asgiforge routes`)."""
        return self.router.describe(prefix, host)
