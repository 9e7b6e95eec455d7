"""Broadcast over a real Redis (Debian's redis-server, started per test)."""

from __future__ import annotations

import sys
import time

import anyio
import pytest

from asgiforge.runtime import _broadcast_redis
from asgiforge.runtime.broadcast import Broadcast, BroadcastError, BroadcastUnavailable
from tests.redis_server import RedisServer, redis_server_fixture  # noqa: F401 (fixture)
from tests.runtime.test_broadcast import receive_n

pytest.importorskip("redis", reason="pip install 'asgiforge[redis]'")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # redis-py's client is asyncio only


@pytest.mark.anyio
async def test_messages_cross_between_two_connections(redis_server: RedisServer) -> None:
    async with Broadcast(redis_server.url) as one, Broadcast(redis_server.url) as two:
        assert one.backend == "redis"
        async with one.subscribe("room") as sub_one, two.subscribe("room", "x") as sub_two:
            await one.publish("room", "from one")
            await two.publish("room", b"\xffbytes from two")
            await two.publish_json("x", [1, 2])
            for sub in (sub_one,):
                got = await receive_n(sub, 2)
                assert [e.message for e in got] == ["from one", b"\xffbytes from two"]
            got = await receive_n(sub_two, 3)
            assert [(e.channel, e.message) for e in got] == [
                ("room", "from one"),
                ("room", b"\xffbytes from two"),
                ("x", "[1,2]"),
            ]


@pytest.mark.anyio
async def test_the_prefix_keeps_services_apart(redis_server: RedisServer) -> None:
    async with (
        Broadcast(redis_server.url + "?prefix=a:") as a,
        Broadcast(redis_server.url + "?prefix=b:") as b,
        a.subscribe("room") as sub_a,
        b.subscribe("room") as sub_b,
    ):
        await a.publish("room", "for a")
        await b.publish("room", "for b")
        assert (await sub_a.receive()).message == "for a"
        assert (await sub_b.receive()).message == "for b"
        assert sub_a.pending == sub_b.pending == 0


@pytest.mark.anyio
async def test_outage_publish_fails_fast_and_subscribers_resume(
    redis_server: RedisServer,
) -> None:
    async with (
        Broadcast(redis_server.url, publish_timeout=1.0) as bus,
        bus.subscribe("room") as sub,
    ):
        await bus.publish("room", "before")
        assert (await sub.receive()).message == "before"
        redis_server.stop()
        started = time.monotonic()
        with pytest.raises(BroadcastUnavailable, match=r"Redis at redis://127\.0\.0\.1:\d+"):
            await bus.publish("room", "during")
        assert time.monotonic() - started < 2.0
        redis_server.start()
        # The subscriber reconnects by itself; publish until one message comes through.
        with anyio.fail_after(10):
            while True:
                try:
                    await bus.publish("room", "after")
                except BroadcastUnavailable:
                    pass  # the publisher's pool reconnects on its next call
                with anyio.move_on_after(0.2):
                    event = await sub.receive()
                    break
        assert event.message == "after"


@pytest.mark.anyio
async def test_starting_while_redis_is_down_still_starts(redis_server: RedisServer) -> None:
    redis_server.stop()
    async with Broadcast(redis_server.url, publish_timeout=0.3) as bus:
        with pytest.raises(BroadcastUnavailable):
            await bus.publish("room", "nobody")
        redis_server.start()
        async with bus.subscribe("room") as sub:
            with anyio.fail_after(10):
                while True:
                    try:
                        await bus.publish("room", "hi")
                    except BroadcastUnavailable:
                        pass
                    with anyio.move_on_after(0.2):
                        assert (await sub.receive()).message == "hi"
                        break


@pytest.mark.anyio
async def test_missing_redis_py_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis.asyncio", None)
    with pytest.raises(ImportError, match=r"asgiforge\[redis\]"):
        _broadcast_redis._import_redis()


def test_redis_on_trio_is_refused_clearly() -> None:
    async def main() -> None:
        async with Broadcast("redis://127.0.0.1:1/0"):
            pass

    with pytest.raises(BroadcastError, match="asyncio only"):
        anyio.run(main, backend="trio")


def test_urls_are_shown_without_password() -> None:
    url, prefix, shown = _broadcast_redis.split_url("rediss://user:secret@cache:6380/2?prefix=p:")
    assert (url, prefix, shown) == (
        "rediss://user:secret@cache:6380/2",
        "p:",
        "rediss://cache:6380/2",
    )
