"""NatsJetStreamBus beyond the Bus contract: server restarts, start-up errors, names."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nats
import pytest
from bus_helpers import Recorder, payloads, publish_all, run

import natsd
from natsd import NatsServer, free_port, nats_server, start_nats_server  # noqa: F401
from walkout.live.bus import inputs_subject
from walkout.live.nats_bus import (
    NatsBusError,
    NatsJetStreamBus,
    consumer_name,
    redact_url,
)

SUBJECT = inputs_subject("store-a")
SUBSCRIBER_PROCESS = Path(__file__).with_name("subscriber_process.py")


def test_message_survives_server_restart(nats_server: NatsServer) -> None:  # noqa: F811
    sent = payloads(50)
    recorder = Recorder()

    async def publish() -> None:
        publisher = NatsJetStreamBus(nats_server.url)
        await publisher.start()
        await publish_all(publisher.publish, [(SUBJECT, data) for data in sent])
        await publisher.close()

    async def consume() -> None:
        subscriber = NatsJetStreamBus(nats_server.url)
        await subscriber.start()
        await subscriber.subscribe(SUBJECT, "fusion", recorder)
        await recorder.wait_for(lambda: recorder.count(SUBJECT) >= len(sent), 30)
        await subscriber.close()

    run(publish())
    nats_server.restart()
    run(consume())
    assert recorder.consumed[SUBJECT] == sent


def test_connected_bus_survives_server_restart(
    nats_server: NatsServer,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = payloads(20, "before")
    after = payloads(20, "after")
    recorder = Recorder()

    async def scenario() -> None:
        # The publish timeout outlasts the restart and the client's 2 s pause
        # before it reconnects, so each publish stores its message once.
        publisher = NatsJetStreamBus(nats_server.url, publish_timeout=15.0)
        subscriber = NatsJetStreamBus(nats_server.url)
        await publisher.start()
        await subscriber.start()
        await subscriber.subscribe(SUBJECT, "fusion", recorder)
        await publish_all(publisher.publish, [(SUBJECT, data) for data in before])
        await recorder.wait_for(lambda: recorder.count(SUBJECT) >= len(before), 30)

        await asyncio.to_thread(nats_server.restart)
        await publish_all(publisher.publish, [(SUBJECT, data) for data in after])
        await recorder.wait_for(
            lambda: recorder.count(SUBJECT) >= len(before) + len(after), 60
        )
        await subscriber.close()
        await publisher.close()

    with caplog.at_level(logging.INFO, logger="walkout.live.nats_bus"):
        run(scenario())
    assert recorder.consumed[SUBJECT] == before + after
    reconnected = [r.getMessage() for r in caplog.records if "bus_reconnected" in r.msg]
    assert any(SUBJECT in message for message in reconnected), reconnected


def test_deleted_stream_created_again(nats_server: NatsServer) -> None:  # noqa: F811
    recorder = Recorder()

    async def scenario() -> None:
        subscriber = NatsJetStreamBus(nats_server.url)
        await subscriber.start()
        await subscriber.subscribe(SUBJECT, "fusion", recorder)
        publisher = NatsJetStreamBus(nats_server.url)
        await publisher.start()
        await publisher.publish(SUBJECT, b"before")
        await recorder.wait_for(lambda: recorder.count(SUBJECT) >= 1, 30)

        client = await nats.connect(nats_server.url)
        await client.jetstream().delete_stream("walkout")
        await client.close()
        # The publisher creates the stream again, and the subscriber finds
        # its consumer missing within five idle fetches and creates it again.
        await publisher.publish(SUBJECT, b"after")
        await recorder.wait_for(lambda: recorder.count(SUBJECT) >= 2, 30)
        await subscriber.close()
        await publisher.close()

    run(scenario())
    assert recorder.consumed[SUBJECT] == [b"before", b"after"]


def test_killed_subscriber_resumes(nats_server: NatsServer) -> None:  # noqa: F811
    sent = payloads(200)
    stop = sent[80]
    recorder = Recorder()
    # The server delivers the unacked message again after this many seconds.
    ack_wait = 1.0
    process = subprocess.Popen(
        [
            sys.executable,
            str(SUBSCRIBER_PROCESS),
            nats_server.url,
            SUBJECT,
            "fusion",
            str(ack_wait),
            stop.decode(),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    killed_consumed: list[bytes] = []
    try:
        assert process.stdout.readline().strip() == "subscribed"

        async def publish() -> None:
            publisher = NatsJetStreamBus(nats_server.url)
            await publisher.start()
            await publish_all(publisher.publish, [(SUBJECT, data) for data in sent])
            await publisher.close()

        run(publish())
        for line in process.stdout:
            if line.startswith("hanging"):
                break
            killed_consumed.append(line.strip().encode())
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()

    async def resume() -> None:
        bus = NatsJetStreamBus(nats_server.url, ack_wait=ack_wait)
        await bus.start()
        await bus.subscribe(SUBJECT, "fusion", recorder)
        await recorder.wait_for(
            lambda: recorder.count(SUBJECT) >= len(sent) - len(killed_consumed), 30
        )
        await bus.close()

    run(resume())
    assert killed_consumed == sent[:80]
    assert recorder.consumed[SUBJECT] == sent[80:]


def test_start_unreachable_names_server() -> None:
    port = free_port()
    bus = NatsJetStreamBus(
        f"nats://walkout:s3cret-pass@127.0.0.1:{port}", connect_timeout=1.0
    )

    async def scenario() -> None:
        await bus.start()

    with pytest.raises(NatsBusError) as raised:
        run(scenario())
    message = str(raised.value)
    assert f"127.0.0.1:{port}" in message
    assert "s3cret-pass" not in message
    assert "walkout:" not in message


def test_start_unreachable_logs_no_password(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    bus = NatsJetStreamBus(
        f"nats://walkout:s3cret-pass@127.0.0.1:{port}", connect_timeout=1.0
    )

    async def scenario() -> None:
        await bus.start()

    with (
        caplog.at_level(logging.DEBUG),
        pytest.raises(NatsBusError),
    ):
        run(scenario())
    assert "s3cret-pass" not in caplog.text


def test_start_without_jetstream() -> None:
    server = start_nats_server(jetstream=False)
    bus = NatsJetStreamBus(server.url, connect_timeout=2.0)

    async def scenario() -> None:
        await bus.start()

    try:
        with pytest.raises(NatsBusError, match="has no JetStream") as raised:
            run(scenario())
        assert f"127.0.0.1:{server.port}" in str(raised.value)
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def test_start_updates_existing_stream(nats_server: NatsServer) -> None:  # noqa: F811
    max_ages: list[float | None] = []

    async def scenario() -> None:
        for max_age in (3600.0, 7200.0):
            bus = NatsJetStreamBus(nats_server.url, max_age=max_age)
            await bus.start()
            await bus.close()
            client = await nats.connect(nats_server.url)
            info = await client.jetstream().stream_info("walkout")
            max_ages.append(info.config.max_age)
            await client.close()

    run(scenario())
    assert max_ages == [3600.0, 7200.0]


def test_stream_uses_file_storage(nats_server: NatsServer) -> None:  # noqa: F811
    configs = []

    async def scenario() -> None:
        bus = NatsJetStreamBus(nats_server.url, stream="walkout_test")
        await bus.start()
        await bus.close()
        client = await nats.connect(nats_server.url)
        info = await client.jetstream().stream_info("walkout_test")
        configs.append(info.config)
        await client.close()

    run(scenario())
    (config,) = configs
    assert config.storage == "file"
    assert config.subjects == ["walkout.>"]


def test_publish_before_start_raises() -> None:
    bus = NatsJetStreamBus("nats://127.0.0.1:4222")

    async def scenario() -> None:
        await bus.publish(SUBJECT, b"x")

    with pytest.raises(RuntimeError, match="not started"):
        run(scenario())


@pytest.mark.parametrize(
    "subject",
    ["walkout", "walkout.>", "walkout.inputs.*", "other.inputs.a", "walkout..a"],
)
def test_invalid_subject_rejected(subject: str) -> None:
    bus = NatsJetStreamBus("nats://127.0.0.1:4222")

    async def scenario() -> None:
        await bus.publish(subject, b"x")

    with pytest.raises(ValueError, match="invalid bus subject"):
        run(scenario())


@pytest.mark.parametrize("durable", ["", "fusion.a", "fusion~a", "fu sion"])
def test_invalid_durable_rejected(durable: str) -> None:
    bus = NatsJetStreamBus("nats://127.0.0.1:4222")

    async def noop(message: object) -> None:
        return None

    async def scenario() -> None:
        await bus.subscribe(SUBJECT, durable, noop)

    with pytest.raises(ValueError, match="invalid durable name"):
        run(scenario())


def test_consumer_name_per_subject() -> None:
    assert consumer_name("fusion", "walkout.inputs.a") == "fusion~walkout~inputs~a"
    assert consumer_name("fusion", "walkout.inputs.a") != consumer_name(
        "fusion", "walkout.inputs.b"
    )


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
        ("nats://user:pass@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        ("nats://token@127.0.0.1:4222", "nats://***@127.0.0.1:4222"),
        ("tls://u:p@[::1]:4443", "tls://***@[::1]:4443"),
        (
            "nats://a:b@127.0.0.1:4222, nats://127.0.0.2:4222",
            "nats://***@127.0.0.1:4222,nats://127.0.0.2:4222",
        ),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_missing_server_skips_without_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(natsd, "find_nats_server", lambda: None)
    monkeypatch.setattr(natsd.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="not root"):
        natsd.require_nats_server()


def test_missing_server_fails_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(natsd, "find_nats_server", lambda: None)
    monkeypatch.setattr(natsd.os, "geteuid", lambda: 0)
    with pytest.raises(pytest.fail.Exception, match=r"system-packages\.sh"):
        natsd.require_nats_server()
