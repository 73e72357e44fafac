"""The whole visit on the real ledger provider, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from service_fakes import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    STORE_DOCUMENT,
    log_in,
    make_settings,
    sign_up,
)

from walkout.db.migrate import upgrade
from walkout.service.app import create_app


@pytest.fixture
def ledger_client(database_url: str) -> Iterator[TestClient]:
    upgrade(database_url)
    app = create_app(make_settings(database_url, payment_provider="ledger"))
    with TestClient(app) as client:
        yield client


def test_visit_on_ledger_provider(ledger_client: TestClient) -> None:
    client = ledger_client
    admin = log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    assert (
        client.post(
            "/stores", json={"document": STORE_DOCUMENT}, headers=admin
        ).status_code
        == 201
    )
    shopper = sign_up(client, "ann@example.com")
    issued = client.post(
        "/stores/corner/passes", json={"party_size": 1}, headers=shopper
    ).json()

    entry = client.post(
        "/stores/corner/gate/entries",
        json={"pass_token": issued["token"], "track_ids": ["p1"]},
        headers=admin,
    )
    assert entry.status_code == 201, entry.text
    visit_id = entry.json()["id"]
    line = client.post(
        f"/visits/{visit_id}/cart-lines", json={"sku": "chips", "qty": 2}, headers=admin
    )
    assert line.status_code == 201, line.text
    exit_response = client.post(
        "/stores/corner/gate/exits", json={"track_id": "p1"}, headers=admin
    )
    assert exit_response.json()["visit_ended"] is True
    settle = client.post(f"/visits/{visit_id}/settle", headers=admin)

    assert settle.status_code == 201, settle.text
    assert settle.json()["total"] == "4.50"
    assert settle.json()["payment_status"] == "captured"
    receipts = client.get("/receipts", headers=shopper).json()
    assert [receipt["total"] for receipt in receipts] == ["4.50"]


def test_declined_card_on_ledger_provider(ledger_client: TestClient) -> None:
    client = ledger_client
    admin = log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    client.post("/stores", json={"document": STORE_DOCUMENT}, headers=admin)
    shopper = sign_up(
        client, "ann@example.com", card="tok_chargeDeclinedInsufficientFunds"
    )
    issued = client.post("/stores/corner/passes", json={}, headers=shopper).json()

    entry = client.post(
        "/stores/corner/gate/entries",
        json={"pass_token": issued["token"], "track_ids": ["p1"]},
        headers=admin,
    )

    assert entry.status_code == 402
    assert entry.json()["error"]["code"] == "insufficient_funds"
    assert client.get("/visits", headers=shopper).json() == []
