"""Broadcast: the public API on memory:// and local:// (Redis: test_broadcast_redis.py)."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from asgiforge.runtime import _broadcast_home
from asgiforge.runtime.broadcast import Broadcast, BroadcastError, Event


@pytest.fixture
def bus_dir() -> Iterator[Path]:
    # Short on purpose: a Unix socket path is limited to 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="h-bus-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def receive_n(sub: object, count: int, timeout: float = 5.0) -> list[Event]:
    received: list[Event] = []
    with anyio.fail_after(timeout):
        async for event in sub:  # type: ignore[attr-defined]
            received.append(event)
            if len(received) == count:
                break
    return received


@pytest.mark.anyio
async def test_publish_reaches_every_subscriber_of_the_channel() -> None:
    async with Broadcast() as bus:
        assert bus.backend == "memory"
        async with (
            bus.subscribe("room") as first,
            bus.subscribe("room", "other") as second,
            bus.subscribe("other") as third,
        ):
            await bus.publish("room", "hello")
            await bus.publish("other", b"\x00raw")
            await bus.publish_json("room", {"n": 1})
            assert [e.message for e in await receive_n(first, 2)] == ["hello", '{"n":1}']
            events = await receive_n(second, 3)
            assert [(e.channel, e.message) for e in events] == [
                ("room", "hello"),
                ("other", b"\x00raw"),
                ("room", '{"n":1}'),
            ]
            assert events[2].json() == {"n": 1}
            assert (await third.receive()).message == b"\x00raw"
            assert third.pending == 0


@pytest.mark.anyio
async def test_history_is_replayed_to_late_joiners_only_when_asked() -> None:
    async with Broadcast(history={"room": 2}) as bus:
        for text in ("one", "two", "three"):
            await bus.publish("room", text)
        async with bus.subscribe("room", history=True) as late, bus.subscribe("room") as plain:
            assert [e.message for e in await receive_n(late, 2)] == ["two", "three"]
            assert plain.pending == 0
            await bus.publish("room", "four")
            assert (await late.receive()).message == "four"
            assert (await plain.receive()).message == "four"


@pytest.mark.anyio
async def test_a_slow_subscriber_drops_its_oldest_messages_and_slows_nobody() -> None:
    async with (
        Broadcast(queue_size=10) as bus,
        bus.subscribe("room") as slow,
        bus.subscribe("room") as fast,
    ):
        received: list[str | bytes] = []

        async def read_fast() -> None:
            async for event in fast:
                received.append(event.message)
                if len(received) == 1000:
                    return

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_fast)
            with anyio.fail_after(5):
                for n in range(1000):
                    await bus.publish("room", str(n))
        assert received == [str(n) for n in range(1000)]
        assert slow.pending == 10
        assert slow.dropped == 990
        assert [e.message for e in await receive_n(slow, 10)] == [str(n) for n in range(990, 1000)]


@pytest.mark.anyio
async def test_subscriptions_end_when_the_broadcast_stops() -> None:
    bus = Broadcast()
    async with bus:
        sub = bus.subscribe("room")
        await sub.__aenter__()
    assert [e async for e in sub] == []
    with pytest.raises(BroadcastError, match="stopped"):
        await sub.receive()
    await sub.__aexit__(None, None, None)


@pytest.mark.anyio
async def test_misuse_gets_clear_errors() -> None:
    bus = Broadcast()
    with pytest.raises(BroadcastError, match="not started"):
        await bus.publish("room", "x")
    with pytest.raises(BroadcastError, match="not started"):
        async with bus.subscribe("room"):
            pass
    with pytest.raises(ValueError, match="unsupported broadcast URL"):
        async with Broadcast("kafka://somewhere"):
            pass
    with pytest.raises(ValueError, match="queue_size"):
        Broadcast(queue_size=0)
    async with bus:
        with pytest.raises(ValueError, match="channel"):
            await bus.publish("", "x")
        with pytest.raises(TypeError, match="str or bytes"):
            await bus.publish("room", 42)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="at least one channel"):
            bus.subscribe()
        with pytest.raises(BroadcastError, match="already started"):
            await bus.__aenter__()


@pytest.mark.anyio
async def test_local_outside_a_server_falls_back_to_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_broadcast_home.ENV, raising=False)
    async with Broadcast("local://") as bus, bus.subscribe("room") as sub:
        assert bus.backend == "memory"
        await bus.publish("room", "here")
        assert (await sub.receive()).message == "here"


@pytest.mark.anyio
async def test_local_connects_the_processes_sharing_the_exported_directory(
    bus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two Broadcasts on one directory stand for two workers of one server.
    monkeypatch.setenv(_broadcast_home.ENV, str(bus_dir))
    async with (
        Broadcast("local://", queue_size=500) as one,
        Broadcast("local://", queue_size=500) as two,
    ):
        assert one.backend == two.backend == "local"
        async with one.subscribe("room") as sub_one, two.subscribe("room") as sub_two:

            async def publish(bus: Broadcast, name: str) -> None:
                for n in range(200):
                    await bus.publish("room", f"{name}:{n}")

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(publish, one, "a")
                tasks.start_soon(publish, two, "b")
                got_one = await receive_n(sub_one, 400)
                got_two = await receive_n(sub_two, 400)
            for events in (got_one, got_two):
                for name in "ab":
                    seen = [e.message for e in events if str(e.message).startswith(name)]
                    assert seen == [f"{name}:{n}" for n in range(200)]
    assert list(bus_dir.iterdir()) == []  # each removed its socket


@pytest.mark.anyio
async def test_local_forgets_dead_workers_and_skips_stuck_ones(bus_dir: Path) -> None:
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dead.bind(str(bus_dir / "1-dead.sock"))
    dead.close()  # a SIGKILLed worker: the file stays, nobody reads
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stuck.bind(str(bus_dir / "2-stuck.sock"))  # alive but never reads
    try:
        url = f"local://{bus_dir}"
        async with Broadcast(url, publish_timeout=0.05) as bus, bus.subscribe("room") as sub:
            with anyio.fail_after(10):
                for n in range(30):
                    await bus.publish("room", str(n))
            assert [e.message for e in await receive_n(sub, 30)] == [str(n) for n in range(30)]
            assert not (bus_dir / "1-dead.sock").exists()
            assert (bus_dir / "2-stuck.sock").exists()
    finally:
        stuck.close()


@pytest.mark.anyio
async def test_local_refuses_a_directory_others_can_write(bus_dir: Path) -> None:
    os.chmod(bus_dir, 0o777)
    with pytest.raises(BroadcastError, match="0700"):
        async with Broadcast(f"local://{bus_dir}"):
            pass


@pytest.mark.anyio
async def test_local_refuses_oversized_messages(bus_dir: Path) -> None:
    async with Broadcast(f"local://{bus_dir}") as bus:
        with pytest.raises(ValueError, match="at most"):
            await bus.publish("room", b"x" * 70_000)


def test_the_home_directory_is_private_and_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_broadcast_home.ENV, raising=False)
    path = _broadcast_home.create()
    try:
        assert os.environ[_broadcast_home.ENV] == path
        assert os.stat(path).st_mode & 0o777 == 0o700
    finally:
        _broadcast_home.remove(path)
    assert not os.path.exists(path)
    assert _broadcast_home.ENV not in os.environ


def test_the_readme_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from asgiforge.runtime.testclient import TestClient

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    code = readme.split("<!-- broadcast-example -->\n```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("BROADCAST_URL", "memory://")
    namespace: dict[str, object] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    with TestClient(namespace["app"]) as client:  # type: ignore[arg-type]
        with client.websocket_connect("/room") as alice, client.websocket_connect("/room") as bob:
            alice.send_text("hello")
            assert alice.receive_text() == bob.receive_text() == "hello"
        with client.websocket_connect("/room") as late:
            assert late.receive_text() == "hello"  # history
