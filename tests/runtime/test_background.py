"""BackgroundTask / BackgroundTasks: sync and async callables, ordering, arguments, errors."""

from __future__ import annotations

import threading

import pytest

from asgiforge.runtime.background import BackgroundTask, BackgroundTasks


@pytest.mark.anyio
async def test_async_task_receives_args_and_kwargs() -> None:
    calls: list[tuple[int, str]] = []

    async def notify(user_id: int, message: str = "") -> None:
        calls.append((user_id, message))

    task = BackgroundTask(notify, 7, message="Order confirmed")
    assert calls == []  # nothing runs at construction
    await task()
    assert calls == [(7, "Order confirmed")]


@pytest.mark.anyio
async def test_sync_task_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()
    seen: list[int] = []

    def blocking(n: int) -> None:
        seen.append(n)
        seen.append(threading.get_ident())

    await BackgroundTask(blocking, 3)()
    assert seen[0] == 3
    assert seen[1] != main


@pytest.mark.anyio
async def test_background_tasks_run_in_order_mixing_sync_and_async() -> None:
    order: list[str] = []

    async def first() -> None:
        order.append("first")

    def second(tag: str) -> None:
        order.append(tag)

    tasks = BackgroundTasks(tasks=[BackgroundTask(first)])
    tasks.add_task(second, "second")
    tasks.add_task(second, tag="third")
    await tasks()
    assert order == ["first", "second", "third"]


@pytest.mark.anyio
async def test_a_failing_task_propagates_and_stops_the_rest() -> None:
    order: list[str] = []

    def boom() -> None:
        raise ValueError("task failed")

    tasks = BackgroundTasks()
    tasks.add_task(boom)
    tasks.add_task(order.append, "never")
    with pytest.raises(ValueError, match="task failed"):
        await tasks()
    assert order == []
