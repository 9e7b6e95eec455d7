"""The ``redis://`` / ``rediss://`` broadcast backend: Redis or Valkey Pub/Sub, across machines.

Each process holds two connections: one subscribed (``PSUBSCRIBE <prefix>*``, one pattern for
every channel, so nothing changes on the Redis side as subscriptions come and go) and one pool
for ``PUBLISH``. Channel ``room`` travels as Redis channel ``<prefix>room``; the prefix
(``broadcast:`` unless the URL says ``?prefix=...``) keeps services sharing one Redis apart.
A payload starts with one byte telling text from bytes, so subscribers get back the type sent.

When Redis goes away the subscriber logs one warning, reconnects with capped exponential backoff
(50 ms doubling to 2 s, with jitter) and resubscribes by itself: subscriptions in the app never
notice, apart from the messages published while Redis was down, which Pub/Sub does not keep.
`publish` gives up after `publish_timeout` with `BroadcastUnavailable` naming the server, so a
request never hangs on a dead Redis. redis-py's asyncio client needs the asyncio event loop.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import anyio
import anyio.abc

from asgiforge.runtime import broadcast

logger = logging.getLogger("asgiforge.broadcast")

DEFAULT_PREFIX = "broadcast:"
_TEXT, _BYTES = b"s", b"b"
_FIRST_DELAY, _MAX_DELAY = 0.05, 2.0
# How long a subscriber waits for a message before checking its connection (PING).
_HEALTH_CHECK_SECONDS = 5


def _import_redis() -> Any:
    try:
        import redis.asyncio
    except ImportError:
        raise ImportError(
            "The redis:// broadcast backend needs redis-py: pip install 'asgiforge[redis]'"
        ) from None
    return redis


def split_url(url: str) -> tuple[str, str, str]:
    """(URL for redis-py, channel prefix, URL safe to print without its password)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    kept = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            kept.append((key, value))
    clean = urlunsplit(parts._replace(query=urlencode(kept)))
    host = parts.hostname or "localhost"
    shown = f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"
    return clean, prefix, shown


class RedisBackend:
    name = "redis"

    def __init__(self, url: str, publish_timeout: float) -> None:
        self._redis = _import_redis()
        self.url, self.prefix, self.shown = split_url(url)
        self.publish_timeout = publish_timeout
        self._publisher: Any = None
        self._subscriber: Any = None

    def _client(self, retries: int, **options: Any) -> Any:
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        return self._redis.asyncio.Redis.from_url(
            self.url,
            socket_connect_timeout=self.publish_timeout,
            retry=Retry(NoBackoff(), retries),
            **options,
        )

    async def start(self, deliver: broadcast.Deliver, tasks: anyio.abc.TaskGroup) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise broadcast.BroadcastError(
                "the redis:// broadcast backend runs on asyncio only"
            ) from None
        # One immediate retry: after Redis restarts, a pooled connection is stale once.
        self._publisher = self._client(1, socket_timeout=self.publish_timeout)
        self._subscriber = self._client(0, health_check_interval=_HEALTH_CHECK_SECONDS)
        # Wait (bounded) for the first subscription so messages published right after start-up
        # are received; if Redis is down the app still starts and the subscriber keeps trying.
        subscribed = anyio.Event()
        tasks.start_soon(self._listen, deliver, subscribed)
        with anyio.move_on_after(self.publish_timeout):
            await subscribed.wait()
            return
        logger.warning("broadcast: Redis at %s unreachable at start-up; retrying", self.shown)

    async def _listen(self, deliver: broadcast.Deliver, subscribed: anyio.Event) -> None:
        errors = (self._redis.RedisError, OSError, TimeoutError)
        delay, down = _FIRST_DELAY, False
        pattern = self.prefix.replace("\\", "\\\\").replace("*", "\\*") + "*"
        skip = len(self.prefix)
        while True:
            pubsub = self._subscriber.pubsub()
            try:
                await pubsub.psubscribe(pattern)
                subscribed.set()
                if down:
                    logger.info("broadcast: Redis at %s is back; subscribers resumed", self.shown)
                    down = False
                delay = _FIRST_DELAY
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is None or message["type"] != "pmessage":
                        continue
                    decoded = _decode(message["data"])
                    if decoded is not None:
                        deliver(message["channel"][skip:].decode(), decoded)
            except errors as exc:
                if not down:
                    logger.warning(
                        "broadcast: lost Redis at %s (%s); reconnecting", self.shown, exc
                    )
                    down = True
            finally:
                with anyio.CancelScope(shield=True):
                    await pubsub.aclose()
            await anyio.sleep(delay * (0.5 + random.random()))  # noqa: S311 (jitter, not crypto)
            delay = min(delay * 2, _MAX_DELAY)

    async def publish(self, channel: str, message: broadcast.Message) -> None:
        payload = _TEXT + message.encode() if isinstance(message, str) else _BYTES + message
        try:
            with anyio.fail_after(self.publish_timeout):
                await self._publisher.publish(self.prefix + channel, payload)
        except (self._redis.RedisError, OSError, TimeoutError) as exc:
            raise broadcast.BroadcastUnavailable(
                f"cannot publish to {channel!r}: Redis at {self.shown} is unreachable ({exc})"
            ) from exc

    async def stop(self) -> None:
        with anyio.CancelScope(shield=True):
            for client in (self._publisher, self._subscriber):
                if client is not None:
                    await client.aclose()
        self._publisher = self._subscriber = None


def _decode(data: bytes) -> broadcast.Message | None:
    kind, payload = data[:1], data[1:]
    if kind == _BYTES:
        return payload
    if kind == _TEXT:
        try:
            return payload.decode()
        except UnicodeDecodeError:
            return None
    return None
