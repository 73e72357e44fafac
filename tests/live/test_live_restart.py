"""Crash safety: a killed service rebuilds fusion from stored inputs, charges once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from live_drive import drive, shoppers_for, wait_for_status
from live_fakes import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD, log_in
from live_process import Service
from live_streams import pad_weights, receipt_items

from walkout.fusion.engine import replay
from walkout.recording import write_recording
from walkout.sim import builtin_store, simulate

SECRET = "restart-test-secret-key-with-enough-length-01"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[tuple[Service, Any]]:
    recording = pad_weights(simulate(builtin_store(), "putback", 1), 15.0)
    store_dir = tmp_path / "recording"
    write_recording(recording, store_dir)
    running = Service(tmp_path, store_dir)
    try:
        yield running, recording
    finally:
        running.stop()


def wait_for_cart(
    client: httpx.Client, visit_id: str, headers: dict[str, str]
) -> list[Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        cart: list[Any] = client.get(f"/visits/{visit_id}", headers=headers).json()[
            "cart"
        ]
        if cart:
            return cart
        time.sleep(0.2)
    raise AssertionError(f"visit {visit_id} has no cart lines after 30 s")


def captures(database: Path) -> list[tuple[str, int]]:
    engine = sa.create_engine(f"sqlite+pysqlite:///{database}")
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                sa.text(
                    "SELECT key, operation FROM payment_idempotency "
                    "WHERE operation = 'capture'"
                )
            ).all()
            captured = connection.execute(
                sa.text(
                    "SELECT id, captured_minor FROM payment_holds "
                    "WHERE captured_minor > 0"
                )
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == len(captured)
    return [(str(row[0]), int(row[1])) for row in captured]


def test_killed_service_settles_once_after_restart(
    service: tuple[Service, Any],
) -> None:
    running, recording = service
    exit_t = max(gate.t for gate in recording.gates if gate.action == "exit")
    # Late enough that fusion has decided the first takes before the kill.
    split = 0.75 * exit_t
    running.start()
    with httpx.Client(base_url=running.url, timeout=30) as client:
        admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
        store_id = recording.store.info.id
        shoppers = shoppers_for(client, recording, "restart")
        visits = drive(client, store_id, admin, recording, shoppers, stop=split)
        cart_before = wait_for_cart(client, next(iter(visits.values())), admin)
    running.kill()

    running.start()
    with httpx.Client(base_url=running.url, timeout=30) as client:
        admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
        visit = client.get(f"/visits/{next(iter(visits.values()))}", headers=admin)
        # Start-up replays every stored input before serving, so the cart
        # contains at least what it contained before the kill.
        cart_after = {line["sku"]: line["qty"] for line in visit.json()["cart"]}
        for line in cart_before:
            assert cart_after.get(line["sku"], 0) >= line["qty"]
        drive(client, store_id, admin, recording, shoppers, start=split, visits=visits)
    # Killed again right after the last batch: the visit may or may not have
    # settled, and the next start settles it if not.
    running.kill()

    running.start()
    with httpx.Client(base_url=running.url, timeout=30) as client:
        admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
        wait_for_status(client, list(visits.values()), admin, {"settled"})
        receipts = {
            account: client.get("/receipts", headers=headers).json()
            for account, headers in shoppers.items()
        }
    running.stop()

    expected = {
        receipt.account: receipt_items(receipt.items)
        for receipt in replay(recording).receipts
    }
    for account, listed in receipts.items():
        assert len(listed) == 1
        lines = sorted((line["sku"], line["qty"]) for line in listed[0]["lines"])
        assert lines == expected[account]
    captured = captures(running.database)
    assert len(captured) == 1
    total_minor = int(sum(Decimal(r[0]["total"]) for r in receipts.values()) * 100)
    assert captured[0][1] == total_minor
