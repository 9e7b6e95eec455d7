"""Publish/subscribe across the processes of a service: one API, three backends (not in Starlette).

Code written once works in one process, across the workers of one `asgiforge serve`, and across
replicas on many machines; only the URL changes (`BROADCAST_URL` in generated projects):

* ``memory://``: this process only (the default, and what tests use).
* ``local://``: every worker of one `asgiforge serve` or `asgiforge dev` on this machine, with no
  extra service (see `asgiforge.runtime._broadcast_local` for how). Outside an asgiforge server
  (no master exported a directory) it falls back to ``memory://`` and logs so once; a directory
  given as ``local:///path/to/dir`` is used by whatever processes share it.
* ``redis://`` / ``rediss://``: Redis or Valkey Pub/Sub, for replicas on several machines
  (``pip install 'asgiforge[redis]'``). Reconnects with backoff; subscribers resume by
  themselves; `publish` raises `BroadcastUnavailable` within `publish_timeout` while it is down.

A `Broadcast` is started and stopped by the app's lifespan (``async with Broadcast(url) as
bus``) and handed to handlers through the lifespan state. Each subscription owns a bounded queue:
when a subscriber falls `queue_size` messages behind, the *oldest* queued message is dropped and
`Subscription.dropped` counts it, so one slow client costs bounded memory and never slows the
publisher or the other subscribers. Every process receives every channel's messages and filters
them locally, which keeps the backends stateless; channels with `history` keep their last
messages (as this process received them since it started) for late joiners.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import anyio
import anyio.abc

if TYPE_CHECKING:
    import asyncio

__all__ = [
    "Broadcast",
    "BroadcastError",
    "BroadcastUnavailable",
    "Event",
    "Subscription",
]

logger = logging.getLogger("asgiforge.broadcast")

Message = str | bytes
MAX_CHANNEL_LENGTH = 200


class BroadcastError(RuntimeError):
    """A broadcast could not be used as asked (not started, closed, bad channel)."""


class BroadcastUnavailable(BroadcastError):
    """The backend cannot carry messages right now (for example Redis is down)."""


@dataclass(frozen=True, slots=True)
class Event:
    """One message as a subscriber receives it."""

    channel: str
    message: Message

    def json(self) -> Any:
        """The message decoded as JSON (what `Broadcast.publish_json` sent)."""
        return json.loads(self.message)


class Backend(Protocol):
    """What carries messages between processes; `deliver` hands each one to the front."""

    name: str

    async def start(self, deliver: Deliver, tasks: anyio.abc.TaskGroup) -> None: ...

    async def publish(self, channel: str, message: Message) -> None: ...

    async def stop(self) -> None: ...


class Deliver(Protocol):
    def __call__(self, channel: str, message: Message) -> None: ...


class Subscription:
    """Messages on some channels, in arrival order, through a bounded drop-oldest queue.

    Use it in ``async with broadcast.subscribe(...) as sub`` and iterate: ``async for event in
    sub``. Iteration ends when the broadcast stops.
    """

    def __init__(self, broadcast: Broadcast, channels: tuple[str, ...], replay: bool) -> None:
        self.channels = channels
        self.dropped = 0
        self._broadcast = broadcast
        self._replay = replay
        self._queue: deque[Event] = deque()
        self._size = broadcast.queue_size
        # The waiting reader: an asyncio future on asyncio (one allocation per wake-up, on the
        # hot path of every delivery), an anyio Event on other event loops.
        self._waiter: asyncio.Future[None] | anyio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is None:
            return
        if isinstance(waiter, anyio.Event):
            waiter.set()
        elif not waiter.done():
            waiter.set_result(None)

    def _put(self, event: Event) -> None:
        if len(self._queue) >= self._size:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        if self._waiter is not None:
            self._wake()

    def _close(self) -> None:
        self._closed = True
        self._wake()

    @property
    def pending(self) -> int:
        """How many messages wait in this subscription's queue."""
        return len(self._queue)

    async def __aenter__(self) -> Subscription:
        # asyncio from sys.modules: no asyncio loop runs unless it is loaded, and importing an
        # app that uses broadcasts (`asgiforge routes`, a trio app) need not load it.
        asyncio = sys.modules.get("asyncio")
        try:
            self._loop = None if asyncio is None else asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None  # not asyncio (trio): wait on anyio Events
        self._broadcast._attach(self, self._replay)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._broadcast._detach(self)
        self._queue.clear()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        while not self._queue:
            if self._closed:
                raise StopAsyncIteration
            if self._loop is not None:
                future = self._waiter = self._loop.create_future()
                await future
            else:
                event = self._waiter = anyio.Event()
                await event.wait()
        return self._queue.popleft()

    async def receive(self) -> Event:
        """The next message; `BroadcastError` once the broadcast has stopped."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise BroadcastError("the broadcast has stopped") from None


class Broadcast:
    """Publish to named channels; subscribe to one or more of them (see the module docstring).

    `history` maps a channel to how many of its last messages to keep for late joiners
    (``subscribe(..., history=True)`` replays them first). `publish_timeout` bounds how long
    `publish` may wait on the backend before raising `BroadcastUnavailable`.
    """

    def __init__(
        self,
        url: str = "memory://",
        *,
        queue_size: int = 100,
        history: Mapping[str, int] | None = None,
        publish_timeout: float = 5.0,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if publish_timeout <= 0:
            raise ValueError("publish_timeout must be positive")
        self.url = url
        self.queue_size = queue_size
        self.history = dict(history or {})
        self.publish_timeout = publish_timeout
        for channel, size in self.history.items():
            _check_channel(channel)
            if size < 1:
                raise ValueError(f"history for {channel!r} must be at least 1")
        self._backend: Backend | None = None
        self._stack: AsyncExitStack | None = None
        self._subscribers: dict[str, set[Subscription]] = {}
        self._recent: dict[str, deque[Event]] = {}

    @property
    def backend(self) -> str:
        """The backend in use once started (``memory``, ``local`` or ``redis``)."""
        if self._backend is None:
            raise BroadcastError("the broadcast is not started: use `async with Broadcast(url)`")
        return self._backend.name

    async def __aenter__(self) -> Broadcast:
        if self._stack is not None:
            raise BroadcastError("this Broadcast is already started")
        backend = _open_backend(self.url, self.publish_timeout)
        self._recent = {channel: deque(maxlen=size) for channel, size in self.history.items()}
        stack = AsyncExitStack()
        await stack.__aenter__()
        try:
            stack.push_async_callback(backend.stop)
            tasks = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tasks.cancel_scope.cancel)
            await backend.start(self._deliver, tasks)
        except BaseException:
            await stack.aclose()
            raise
        self._backend = backend
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._backend = self._stack, None, None
        for subscribers in self._subscribers.values():
            for subscription in subscribers:
                subscription._close()
        self._subscribers.clear()
        if stack is not None:
            await stack.__aexit__(exc_type, exc, tb)

    async def publish(self, channel: str, message: Message) -> None:
        """Send `message` to every subscriber of `channel` in every process of the service."""
        _check_channel(channel)
        if not isinstance(message, str | bytes):
            raise TypeError(f"messages are str or bytes, not {type(message).__name__}")
        if self._backend is None:
            raise BroadcastError("the broadcast is not started: use `async with Broadcast(url)`")
        await self._backend.publish(channel, message)

    async def publish_json(self, channel: str, data: Any) -> None:
        """Publish `data` as compact JSON text; subscribers decode it with `Event.json()`."""
        await self.publish(channel, json.dumps(data, separators=(",", ":")))

    def subscribe(self, *channels: str, history: bool = False) -> Subscription:
        """A subscription to `channels`, to use in ``async with``; `history` replays first."""
        if not channels:
            raise ValueError("subscribe to at least one channel")
        for channel in channels:
            _check_channel(channel)
        return Subscription(self, tuple(dict.fromkeys(channels)), history)

    def _attach(self, subscription: Subscription, replay: bool) -> None:
        if self._backend is None:
            raise BroadcastError("the broadcast is not started: use `async with Broadcast(url)`")
        if replay:
            backlog = [e for c in subscription.channels for e in self._recent.get(c, ())]
            for event in backlog[-self.queue_size :]:
                subscription._queue.append(event)
        for channel in subscription.channels:
            self._subscribers.setdefault(channel, set()).add(subscription)

    def _detach(self, subscription: Subscription) -> None:
        for channel in subscription.channels:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[channel]

    def _deliver(self, channel: str, message: Message) -> None:
        event = Event(channel, message)
        recent = self._recent.get(channel)
        if recent is not None:
            recent.append(event)
        for subscription in self._subscribers.get(channel, ()):
            subscription._put(event)


def _check_channel(channel: str) -> None:
    if not isinstance(channel, str) or not channel:
        raise ValueError("a channel name is a non-empty string")
    if len(channel) > MAX_CHANNEL_LENGTH or "\x00" in channel:
        raise ValueError(f"channel names are at most {MAX_CHANNEL_LENGTH} characters, no NUL")


def _open_backend(url: str, publish_timeout: float) -> Backend:
    """The backend for `url`; `ValueError` naming the supported schemes for anything else."""
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from asgiforge.runtime._broadcast_memory import MemoryBackend

        return MemoryBackend()
    if scheme == "local":
        from asgiforge.runtime._broadcast_local import open_local

        return open_local(url, publish_timeout)
    if scheme in {"redis", "rediss"}:
        from asgiforge.runtime._broadcast_redis import RedisBackend

        return RedisBackend(url, publish_timeout)
    raise ValueError(
        f"unsupported broadcast URL {url!r}: use memory://, local:// or redis://host:port"
    )
