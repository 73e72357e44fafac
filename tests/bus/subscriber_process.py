"""A fusion-like subscriber process that the tests kill with SIGKILL.

Usage: ``python subscriber_process.py URL SUBJECT DURABLE ACK_WAIT STOP``.
It prints each consumed payload on its own line and hangs in the handler of
the payload STOP, so the test can kill it while that message is unacked.
"""

from __future__ import annotations

import asyncio
import sys

from walkout.live.bus import Message
from walkout.live.nats_bus import NatsJetStreamBus


async def main(
    url: str, subject: str, durable: str, ack_wait: float, stop: str
) -> None:
    bus = NatsJetStreamBus(url, ack_wait=ack_wait)
    await bus.start()

    async def handle(message: Message) -> None:
        if message.data == stop.encode():
            print(f"hanging {stop}", flush=True)
            await asyncio.Event().wait()
        print(message.data.decode(), flush=True)

    await bus.subscribe(subject, durable, handle)
    print("subscribed", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    url, subject, durable, ack_wait, stop = sys.argv[1:6]
    asyncio.run(main(url, subject, durable, float(ack_wait), stop))
