"""Helpers of the bus tests: run a coroutine, record deliveries, wait for them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from walkout.live.bus import Message

# Upper bound of one test's asyncio part. The slowest, a nats-server restart
# while the buses are connected, takes a few seconds.
TEST_SECONDS = 90.0


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    """Run ``coroutine`` in a new event loop and fail it after ``TEST_SECONDS``."""

    async def bounded() -> None:
        await asyncio.wait_for(coroutine, TEST_SECONDS)

    asyncio.run(bounded())


class Recorder:
    """A handler that stores each payload it consumed, per subject.

    ``fail_once`` lists payloads whose first delivery raises; ``attempts``
    counts every delivery, consumed or not.
    """

    def __init__(self, fail_once: frozenset[bytes] = frozenset()) -> None:
        self.consumed: dict[str, list[bytes]] = {}
        self.attempts: dict[bytes, int] = {}
        self.fail_once = fail_once
        self._changed = asyncio.Event()

    async def __call__(self, message: Message) -> None:
        self.attempts[message.data] = self.attempts.get(message.data, 0) + 1
        if message.data in self.fail_once and self.attempts[message.data] == 1:
            raise RuntimeError(f"handler fails once on {message.data!r}")
        self.consumed.setdefault(message.subject, []).append(message.data)
        self._changed.set()

    def count(self, subject: str) -> int:
        return len(self.consumed.get(subject, []))

    async def wait_for(self, condition: Callable[[], bool], seconds: float) -> None:
        """Wait until ``condition()`` is true after a delivery; raise TimeoutError."""

        async def poll() -> None:
            while not condition():
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(poll(), seconds)


def payloads(count: int, prefix: str = "") -> list[bytes]:
    """Return ``count`` distinct payloads that sort in publishing order."""
    return [f"{prefix}{index:06d}".encode() for index in range(count)]


async def publish_all(
    publish: Callable[[str, bytes], Awaitable[None]],
    messages: list[tuple[str, bytes]],
) -> None:
    for subject, data in messages:
        await publish(subject, data)
