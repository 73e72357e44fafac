"""The message bus between sensor ingestion and fusion.

Ingestion stores each input in the database, then publishes its id on the
store's subject; the fusion worker consumes the subject in order. The bus is
in-process by default, so one ``walkout serve`` process does both; with NATS
JetStream configured, ingestion and fusion can run as separate processes.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from walkout.service.settings import Settings

logger = logging.getLogger(__name__)

SUBJECT_PREFIX = "walkout"

# NATS subject tokens may not contain dots, spaces or the wildcards * and >.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def subject_token(name: str) -> str:
    """Encode ``name`` (a store id) as one NATS subject token, reversibly."""
    return _UNSAFE.sub(lambda match: f"={ord(match.group()):04x}", name)


def inputs_subject(store_id: str) -> str:
    """Return the subject that carries the ids of ``store_id``'s stored inputs."""
    return f"{SUBJECT_PREFIX}.inputs.{subject_token(store_id)}"


@dataclass(frozen=True)
class Message:
    subject: str
    data: bytes


Handler = Callable[[Message], Awaitable[None]]


class Bus(Protocol):
    """Ordered, at-least-once delivery of small messages per subject."""

    async def start(self) -> None: ...

    async def publish(self, subject: str, data: bytes) -> None:
        """Send ``data``; return once the bus has stored it (for JetStream, its ack)."""
        ...

    async def subscribe(self, subject: str, durable: str, handler: Handler) -> None:
        """Deliver the messages of ``subject`` to ``handler`` one at a time, in order.

        A message counts as consumed once ``handler`` returns; one whose
        handler raised is delivered again. ``durable`` names the consumer, so
        that a restarted subscriber resumes after the last consumed message.
        """
        ...

    async def close(self) -> None: ...


class InProcessBus:
    """A bus inside one process: a queue and a delivery task per subscription."""

    def __init__(self) -> None:
        self._queues: dict[str, list[asyncio.Queue[Message]]] = {}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        return None

    async def publish(self, subject: str, data: bytes) -> None:
        for queue in self._queues.get(subject, []):
            queue.put_nowait(Message(subject, data))

    async def subscribe(self, subject: str, durable: str, handler: Handler) -> None:
        queue: asyncio.Queue[Message] = asyncio.Queue()
        self._queues.setdefault(subject, []).append(queue)
        self._tasks.append(
            asyncio.create_task(self._deliver(queue, handler), name=durable)
        )

    async def _deliver(self, queue: asyncio.Queue[Message], handler: Handler) -> None:
        while True:
            message = await queue.get()
            while True:
                try:
                    await handler(message)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception(
                        "bus_handler_failed subject=%s; retrying in 1 s",
                        message.subject,
                    )
                    await asyncio.sleep(1.0)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._queues.clear()


# nats-py speaks TLS to a tls:// URL.
NATS_SCHEMES = ("nats://", "tls://")


def build_bus(settings: Settings) -> Bus:
    """Return the bus that ``settings.bus_url`` names: NATS JetStream or in-process.

    An empty URL gives the in-process bus. A ``nats://`` or ``tls://`` URL gives
    ``NatsJetStreamBus``, imported here so that the NATS client is needed
    only when configured.
    """
    url = settings.bus_url
    if not url:
        return InProcessBus()
    if url.startswith(NATS_SCHEMES):
        from walkout.live.nats_bus import NatsJetStreamBus

        return NatsJetStreamBus(url)
    scheme = url.split("://", 1)[0] if "://" in url else url[:0]
    raise ValueError(
        f"WALKOUT_BUS_URL with scheme {scheme!r} is not supported; use a "
        "nats:// URL or leave it empty"
    )
