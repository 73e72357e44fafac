"""A whole visit through ``walkout serve`` over HTTP, paid through a fake Stripe.

A shopper signs up, adds a card and gets an entry pass. A staff account
works the gate with the track ids of a simulated recording and sends the
recording's sensor data in time order, one batch per second of sensor time,
partly over the WebSocket. The receipt arrives on the visit's server-sent
event stream and must match the recording's truth. The fake Stripe must
show the entry hold and the capture, and later the refund of a disputed
line. The service runs as one process (SQLite, PostgreSQL) and as an API
process and a fusion process joined by NATS JetStream.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_client import StoreApi, VisitEvents, WebSocket
from e2e_feed import Step, schedule, tracks_by_account
from e2e_service import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    WALKOUT,
    ServiceProcess,
    free_port,
    service_environment,
)
from fake_stripe import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe

from natsd import NatsServer
from walkout.recording import read_recording
from walkout.recording.model import Recording

SCENARIO = "single"
SEED = 1
# Sensor-clock seconds per batch, and of steady readings after the recording.
BATCH_S = 1.0
TAIL_S = 15.0
# Batches sent over the WebSocket instead of HTTP, by index.
WEBSOCKET_BATCHES = range(10, 16)
RECEIPT_TIMEOUT_S = 30.0
# Any single line of the built-in store is refunded without review.
AUTO_REFUND_LIMIT = "50.00"


@pytest.fixture(scope="module")
def recording_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recording") / SCENARIO
    command = [
        str(WALKOUT),
        "simulate",
        str(out),
        "--scenario",
        SCENARIO,
        "--seed",
        str(SEED),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    return out


@pytest.fixture(scope="module")
def recording(recording_dir: Path) -> Recording:
    return read_recording(recording_dir)


@dataclass
class Service:
    """The processes of one service layout; ``api`` serves HTTP."""

    api: ServiceProcess
    fusion: ServiceProcess | None = None

    def stop(self) -> None:
        for process in (self.api, self.fusion):
            if process is not None:
                process.stop()


def start_service(
    layout: str,
    tmp_path: Path,
    database_url: str,
    store_dir: Path,
    stripe_base_url: str,
    nats_url: str | None = None,
) -> Service:
    """Start ``walkout serve`` with the Stripe provider for ``layout``."""
    settings = {
        "payment_provider": "stripe",
        "stripe_secret_key": TEST_API_KEY,
        "stripe_webhook_secret": TEST_WEBHOOK_SECRET,
        "dispute_auto_refund_limit": AUTO_REFUND_LIMIT,
        "visit_events_poll_s": "0.1",
        "stripe_api_base": stripe_base_url,
    }
    if nats_url is not None:
        settings["bus_url"] = nats_url
    environment = service_environment(tmp_path / "data", database_url, **settings)

    port = free_port()
    api_arguments = ["--port", str(port), "--store", str(store_dir)]
    if nats_url is not None:
        api_arguments += ["--only", "api"]
    api = ServiceProcess(
        api_arguments,
        environment,
        tmp_path / f"{layout}-api.log",
        port=port,
    )
    api.wait_healthy()
    if nats_url is None:
        return Service(api)

    try:
        fusion = ServiceProcess(
            ["--only", "fusion", "--no-migrate"],
            environment,
            tmp_path / f"{layout}-fusion.log",
        )
        fusion.wait_for_log("fusion_started")
    except BaseException:
        api.stop()
        raise
    return Service(api, fusion)


@pytest.fixture(params=["sqlite", "postgresql", "sqlite-nats", "postgresql-nats"])
def service(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    recording_dir: Path,
    e2e_stripe: tuple[FakeStripe, str],
) -> Iterator[Service]:
    layout = str(request.param)
    if layout.startswith("postgresql"):
        database_url = str(request.getfixturevalue("postgres_database_url"))
    else:
        database_url = f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"
    nats_url = None
    if layout.endswith("-nats"):
        nats: NatsServer = request.getfixturevalue("nats_server")
        nats_url = nats.url
    _, stripe_base_url = e2e_stripe
    running = start_service(
        layout, tmp_path, database_url, recording_dir, stripe_base_url, nats_url
    )
    try:
        yield running
    finally:
        running.stop()


@dataclass
class VisitRun:
    """What the gateway and the app saw while the recording played."""

    shopper: dict[str, str]
    visit_id: str
    events: VisitEvents
    websocket_acks: list[dict[str, Any]]


def play(
    api: StoreApi,
    port: int,
    store_id: str,
    gate: dict[str, str],
    recording: Recording,
    shoppers: dict[str, dict[str, str]],
    steps: list[Step],
) -> dict[str, VisitRun]:
    """Send the steps in order: passes and entries, exits, sensor batches."""
    tracks = tracks_by_account(recording)
    runs: dict[str, VisitRun] = {}
    acks: list[dict[str, Any]] = []
    socket: WebSocket | None = None
    try:
        for step in steps:
            if step.gate is not None and step.gate.action == "enter":
                account = str(step.gate.account)
                shopper = shoppers[account]
                entry_pass = api.entry_pass(shopper, store_id, len(tracks[account]))
                visit = api.enter(
                    gate, store_id, entry_pass["token"], tracks[account], step.gate.t
                )
                events = VisitEvents(api.base_url, visit["id"], shopper).start()
                assert events.opened.wait(10), "the event stream did not open"
                runs[account] = VisitRun(shopper, visit["id"], events, acks)
            elif step.gate is not None:
                api.exit(gate, store_id, step.gate)
            elif step.batch is not None:
                batch = step.batch
                batch_id = f"e2e:{batch.index}"
                if batch.index in WEBSOCKET_BATCHES:
                    if socket is None:
                        socket = WebSocket(
                            port, f"/stores/{store_id}/sensors/stream", gate
                        )
                    socket.send_text(
                        json.dumps({"batch_id": batch_id, **batch.payload})
                    )
                    acks.append(json.loads(socket.receive_text()))
                else:
                    api.send_batch(gate, store_id, batch_id, batch.payload)
    finally:
        if socket is not None:
            socket.close()
    return runs


def minor_units(amount: Decimal) -> int:
    return int(amount * 100)


def test_whole_visit(
    service: Service,
    recording: Recording,
    e2e_stripe: tuple[FakeStripe, str],
) -> None:
    fake, _ = e2e_stripe
    store = recording.store
    store_id = store.info.id
    port = service.api.port
    assert port is not None
    api = StoreApi(service.api.base_url)
    try:
        admin = api.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        assert api.get(f"/stores/{store_id}", admin)["id"] == store_id
        gate = api.add_staff(admin, store_id, "e2e-gate@example.com")

        shoppers: dict[str, dict[str, str]] = {}
        for account in tracks_by_account(recording):
            shopper = api.sign_up(f"e2e-{account}@example.com")
            card = api.add_card(shopper)
            assert card["card"]["last4"] == "4242", card
            shoppers[account] = shopper
        assert len(fake.customers) == len(shoppers)

        steps = schedule(recording, BATCH_S, TAIL_S)
        runs = play(api, port, store_id, gate, recording, shoppers, steps)
        assert set(runs) == set(shoppers)

        truth = {receipt.account: receipt.items for receipt in recording.truth.receipts}
        for account, run in runs.items():
            check_receipt(api, fake, store, run, truth[account], len(runs))
            check_dispute(api, fake, run)
            if service.fusion is not None:
                # The API process runs no fusion, so the other one settled.
                settled = f"visit {run.visit_id} settled by fusion"
                assert settled in service.fusion.log.read_text()
                assert settled not in service.api.log.read_text()
        acks = next(iter(runs.values())).websocket_acks
        assert len(acks) == len(WEBSOCKET_BATCHES), acks
        for ack in acks:
            assert ack.get("duplicate") is False, ack
            assert ack["weights"] > 0, ack
    finally:
        api.close()


def check_receipt(
    api: StoreApi,
    fake: FakeStripe,
    store: Any,
    run: VisitRun,
    expected: dict[str, int],
    visits: int,
) -> None:
    """Check the pushed receipt against the truth, and the hold and its capture."""
    receipt = run.events.receipt(RECEIPT_TIMEOUT_S)

    assert run.events.status_code == 200
    statuses = run.events.statuses()
    assert statuses[0] == "inside", statuses
    assert statuses[-1] == "settled", statuses
    assert receipt["visit_id"] == run.visit_id
    lines = {line["sku"]: line for line in receipt["lines"]}
    assert {sku: line["qty"] for sku, line in lines.items()} == expected
    for sku, line in lines.items():
        price = store.products[sku].price
        assert Decimal(line["unit_price"]) == price, sku
        assert Decimal(line["amount"]) == price * line["qty"], sku
    total = sum(
        (store.products[sku].price * qty for sku, qty in expected.items()),
        Decimal("0.00"),
    )
    assert Decimal(receipt["total"]) == total
    assert receipt["payment_status"] == "captured"
    stored = api.get(f"/receipts/{receipt['id']}", run.shopper)
    assert Decimal(stored["total"]) == total

    # One hold per visit, captured for the receipt's total.
    assert len(fake.payment_intents) == visits
    authorisations = fake.charges_of("authorisation")
    captures = fake.charges_of("capture")
    assert len(captures) == visits, captures
    capture = next(charge for charge in captures if charge.amount == minor_units(total))
    intent = fake.payment_intents[capture.intent_id]
    assert intent["status"] == "succeeded"
    assert intent["amount_received"] == minor_units(total)
    hold = next(c for c in authorisations if c.intent_id == capture.intent_id)
    assert hold.amount == minor_units(Decimal("50.00"))
    customer = fake.customers[intent["customer"]]
    assert customer["email"] == api.me(run.shopper)["email"]


def check_dispute(api: StoreApi, fake: FakeStripe, run: VisitRun) -> None:
    """Dispute one unit of the receipt's first line; the fake Stripe refunds it."""
    receipt = run.events.receipt(0)
    line = receipt["lines"][0]
    refunds_before = len(fake.charges_of("refund"))
    response = api.http.post(
        f"/receipts/{receipt['id']}/disputes",
        json={
            "lines": [{"sku": line["sku"], "qty": 1}],
            "reason": "I put it back on the shelf",
        },
        headers=run.shopper,
    )
    assert response.status_code == 201, response.text
    dispute = response.json()

    unit_price = Decimal(line["unit_price"])
    assert dispute["status"] == "refunded", dispute
    assert Decimal(dispute["amount"]) == unit_price
    refunds = fake.charges_of("refund")
    assert len(refunds) == refunds_before + 1
    refund = refunds[-1]
    assert refund.amount == minor_units(unit_price)
    intent = fake.payment_intents[refund.intent_id]
    assert intent["amount_received"] == minor_units(Decimal(receipt["total"]))
    stored = api.get(f"/receipts/{receipt['id']}", run.shopper)
    assert Decimal(stored["refunded_total"]) == unit_price
    assert [(r["sku"], r["qty"]) for r in stored["refunds"]] == [(line["sku"], 1)]


def test_sensor_stream_served(tmp_path: Path, recording_dir: Path) -> None:
    environment = service_environment(
        tmp_path / "data", f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"
    )
    port = free_port()
    process = ServiceProcess(
        ["--port", str(port), "--store", str(recording_dir)],
        environment,
        tmp_path / "serve.log",
        port=port,
    )
    try:
        process.wait_healthy()
        api = StoreApi(process.base_url)
        admin = api.log_in(ADMIN_EMAIL, ADMIN_PASSWORD)
        store_id = api.get("/stores", admin)[0]["id"]
        api.close()
        try:
            socket = WebSocket(port, f"/stores/{store_id}/sensors/stream", admin)
        except Exception as error:
            raise AssertionError(f"no WebSocket: {error}") from error
        socket.send_text(
            '{"batch_id": "ws:1", "weights": {"t": [], "plate": [], "g": []}}'
        )
        ack = socket.receive_text()
        socket.close()
        assert '"batch_id":"ws:1"' in ack.replace(" ", ""), ack
    finally:
        process.stop()
