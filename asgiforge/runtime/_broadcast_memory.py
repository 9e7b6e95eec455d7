"""The ``memory://`` broadcast backend: messages stay in this process.

Right for one process (tests, `asgiforge dev --no-reload`, a single-worker server) and the
fallback of ``local://`` outside an asgiforge server. Publishing delivers synchronously to the
subscribers' bounded queues, so per-publisher order is kept trivially.
"""

from __future__ import annotations

import anyio.abc
import anyio.lowlevel

from asgiforge.runtime import broadcast


class MemoryBackend:
    name = "memory"

    def __init__(self) -> None:
        self._deliver: broadcast.Deliver | None = None

    async def start(self, deliver: broadcast.Deliver, tasks: anyio.abc.TaskGroup) -> None:
        self._deliver = deliver

    async def publish(self, channel: str, message: broadcast.Message) -> None:
        if self._deliver is None:
            raise broadcast.BroadcastError("the broadcast has stopped")
        self._deliver(channel, message)
        # A publisher in a tight loop still lets the subscribers run.
        await anyio.lowlevel.checkpoint()

    async def stop(self) -> None:
        self._deliver = None
