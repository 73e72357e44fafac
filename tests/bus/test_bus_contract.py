"""The Bus contract, checked on the in-process bus and on NATS JetStream.

Each NATS test gets its own nats-server on 127.0.0.1 (see ``natsd``), and
publisher and subscriber use two connections, as ingestion and fusion do when
they run as two processes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from bus_helpers import Recorder, payloads, publish_all, run

from natsd import NatsServer, nats_server  # noqa: F401
from walkout.live.bus import (
    Bus,
    InProcessBus,
    Message,
    inputs_subject,
    subject_token,
)
from walkout.live.nats_bus import NatsJetStreamBus

# Returns a publisher and a subscriber, which are one object in-process.
BusPair = Callable[[], tuple[Bus, Bus]]

STORE_A = inputs_subject("store-a")
STORE_B = inputs_subject("store b/2")


def nats_bus(server: NatsServer) -> NatsJetStreamBus:
    return NatsJetStreamBus(server.url, retry_delay=0.1)


@pytest.fixture(params=["in-process", "nats"])
def bus_pair(request: pytest.FixtureRequest) -> BusPair:
    if request.param == "in-process":

        def in_process_pair() -> tuple[Bus, Bus]:
            bus = InProcessBus()
            return bus, bus

        return in_process_pair

    server: NatsServer = request.getfixturevalue("nats_server")

    def nats_pair() -> tuple[Bus, Bus]:
        return nats_bus(server), nats_bus(server)

    return nats_pair


async def start(publisher: Bus, subscriber: Bus) -> None:
    await publisher.start()
    if subscriber is not publisher:
        await subscriber.start()


async def close(publisher: Bus, subscriber: Bus) -> None:
    await subscriber.close()
    if subscriber is not publisher:
        await publisher.close()


def test_order_kept_on_two_subjects(bus_pair: BusPair) -> None:
    sent_a = payloads(1500, "a")
    sent_b = payloads(1500, "b")
    interleaved = [
        message
        for pair in zip(sent_a, sent_b, strict=True)
        for message in ((STORE_A, pair[0]), (STORE_B, pair[1]))
    ]
    recorder = Recorder()

    async def scenario() -> None:
        publisher, subscriber = bus_pair()
        await start(publisher, subscriber)
        await subscriber.subscribe(STORE_A, "fusion", recorder)
        await subscriber.subscribe(STORE_B, "fusion", recorder)
        await publish_all(publisher.publish, interleaved)
        await recorder.wait_for(
            lambda: recorder.count(STORE_A) + recorder.count(STORE_B) >= 3000, 60
        )
        await close(publisher, subscriber)

    run(scenario())
    assert recorder.consumed[STORE_A] == sent_a
    assert recorder.consumed[STORE_B] == sent_b


def test_failed_handler_gets_message_again(bus_pair: BusPair) -> None:
    sent = payloads(600)
    failing = frozenset({sent[0], sent[300], sent[-1]})
    recorder = Recorder(fail_once=failing)

    async def scenario() -> None:
        publisher, subscriber = bus_pair()
        await start(publisher, subscriber)
        await subscriber.subscribe(STORE_A, "fusion", recorder)
        await publish_all(publisher.publish, [(STORE_A, data) for data in sent])
        await recorder.wait_for(lambda: recorder.count(STORE_A) >= len(sent), 60)
        await close(publisher, subscriber)

    run(scenario())
    assert recorder.consumed[STORE_A] == sent
    for data in failing:
        assert recorder.attempts[data] == 2, data
    assert sum(recorder.attempts.values()) == len(sent) + len(failing)


def test_restarted_consumer_resumes(nats_server: NatsServer) -> None:  # noqa: F811
    sent = payloads(300)
    first = Recorder()
    second = Recorder()
    # The first subscriber stops after this many messages. The rest arrive
    # at the second, some of them published while no subscriber runs.
    stop_after = 120
    published_while_down = 100
    down_from = len(sent) - published_while_down

    async def scenario() -> None:
        publisher = nats_bus(nats_server)
        await publisher.start()
        await publish_all(publisher.publish, [(STORE_A, d) for d in sent[:down_from]])

        subscriber = nats_bus(nats_server)
        await subscriber.start()
        reached = asyncio.Event()

        async def consume_then_stop(message: Message) -> None:
            if reached.is_set():
                raise RuntimeError("delivered after the subscriber began to close")
            await first(message)
            if first.count(STORE_A) == stop_after:
                reached.set()
                # The bus is closing by the time this handler returns, so
                # it fetches no further message.
                await asyncio.sleep(0.3)

        await subscriber.subscribe(STORE_A, "fusion", consume_then_stop)
        await asyncio.wait_for(reached.wait(), 30)
        await subscriber.close()
        await publish_all(publisher.publish, [(STORE_A, d) for d in sent[down_from:]])

        restarted = nats_bus(nats_server)
        await restarted.start()
        await restarted.subscribe(STORE_A, "fusion", second)
        await second.wait_for(
            lambda: second.count(STORE_A) >= len(sent) - stop_after, 30
        )
        await restarted.close()
        await publisher.close()

    run(scenario())
    assert first.consumed[STORE_A] == sent[:stop_after]
    assert second.consumed[STORE_A] == sent[stop_after:]
    assert sum(second.attempts.values()) == len(sent) - stop_after


def test_consumer_per_subject_and_durable(nats_server: NatsServer) -> None:  # noqa: F811
    recorder = Recorder()

    async def scenario() -> None:
        bus = nats_bus(nats_server)
        await bus.start()
        await bus.subscribe(STORE_A, "fusion", recorder)
        await bus.subscribe(STORE_B, "fusion", recorder)
        # The fusion worker names its consumer after the store's subject token.
        await bus.subscribe(STORE_B, f"fusion-{subject_token('store b/2')}", recorder)
        await bus.publish(STORE_A, b"to a")
        await bus.publish(STORE_B, b"to b")
        await recorder.wait_for(
            lambda: recorder.count(STORE_A) + recorder.count(STORE_B) >= 3, 30
        )
        await bus.close()

    run(scenario())
    assert recorder.consumed[STORE_A] == [b"to a"]
    assert recorder.consumed[STORE_B] == [b"to b", b"to b"]
