"""run_in_threadpool / iterate_in_threadpool: results, kwargs, threads, exhaustion."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import anyio
import pytest

from asgiforge.runtime.concurrency import (
    iterate_in_threadpool,
    run_in_threadpool,
    run_until_first_complete,
)
from asgiforge.runtime.exceptions import StarletteDeprecationWarning


@pytest.mark.anyio
async def test_run_in_threadpool_returns_result_with_args_and_kwargs() -> None:
    def work(a: int, b: int, *, scale: int = 1) -> int:
        return (a + b) * scale

    assert await run_in_threadpool(work, 1, 2) == 3
    assert await run_in_threadpool(work, 1, 2, scale=10) == 30


@pytest.mark.anyio
async def test_run_in_threadpool_runs_off_the_event_loop_thread() -> None:
    main = threading.get_ident()
    seen = await run_in_threadpool(threading.get_ident)
    assert seen != main


@pytest.mark.anyio
async def test_run_in_threadpool_propagates_exceptions() -> None:
    def boom() -> None:
        raise KeyError("nope")

    with pytest.raises(KeyError):
        await run_in_threadpool(boom)


@pytest.mark.anyio
async def test_iterate_in_threadpool_yields_every_item_from_a_worker_thread() -> None:
    main = threading.get_ident()
    threads: list[int] = []

    def gen() -> Iterator[int]:
        for i in range(3):
            threads.append(threading.get_ident())
            yield i

    assert [x async for x in iterate_in_threadpool(gen())] == [0, 1, 2]
    assert threads and all(t != main for t in threads)


@pytest.mark.anyio
async def test_iterate_in_threadpool_accepts_plain_iterables_and_empty_ones() -> None:
    assert [x async for x in iterate_in_threadpool(["a", "b"])] == ["a", "b"]
    assert [x async for x in iterate_in_threadpool([])] == []


@pytest.mark.anyio
async def test_iterate_in_threadpool_propagates_errors_from_the_iterator() -> None:
    def gen() -> Iterator[int]:
        yield 1
        raise RuntimeError("broken source")

    got: list[int] = []
    with pytest.raises(RuntimeError, match="broken source"):
        async for x in iterate_in_threadpool(gen()):
            got.append(x)
    assert got == [1]


@pytest.mark.anyio
async def test_run_until_first_complete_cancels_the_rest_and_warns() -> None:
    first_done = anyio.Event()
    finished: list[str] = []

    async def quick(name: str) -> None:
        finished.append(name)
        first_done.set()

    async def slow(name: str) -> None:
        await first_done.wait()
        await anyio.sleep_forever()
        finished.append(name)  # pragma: no cover - cancelled

    with pytest.warns(StarletteDeprecationWarning, match="run_until_first_complete is deprecated"):
        await run_until_first_complete((slow, {"name": "slow"}), (quick, {"name": "quick"}))
    assert finished == ["quick"]
