"""Visits driven by live sensor data: live carts, settling at exit, pushed receipts."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_drive import drive, shoppers_for, wait_for_status
from live_fakes import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD, log_in, sign_up
from live_streams import Window, pad_weights, receipt_items

from walkout.fusion.engine import replay
from walkout.recording.model import Recording
from walkout.sim import builtin_store, simulate


@pytest.fixture(scope="module")
def multi_recording() -> Recording:
    return pad_weights(simulate(builtin_store(), "multi", 1), 15.0)


def own_receipts(client: TestClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = client.get("/receipts", headers=headers)
    assert response.status_code == 200, response.text
    receipts: list[dict[str, Any]] = response.json()
    return receipts


def read_events(
    client: TestClient, visit_id: str, headers: dict[str, str], out: list[Any]
) -> None:
    """Collect (event, data) pairs of the visit's event stream until it ends."""
    name = ""
    with client.stream("GET", f"/visits/{visit_id}/events", headers=headers) as reply:
        out.append(("http", reply.status_code))
        for line in reply.iter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                out.append((name, json.loads(line.removeprefix("data: "))))


def test_shoppers_settle_with_replay_receipts(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
    live_provider: Any,
    multi_recording: Recording,
) -> None:
    shoppers = shoppers_for(live_client, multi_recording, "multi")
    live_carts: dict[str, list[Any]] = {}
    visits: dict[str, str] = {}

    def look(window: Window) -> None:
        # A cart read before its visit settles shows fusion's lines so far.
        for account, visit_id in visits.items():
            body = live_client.get(f"/visits/{visit_id}", headers=shoppers[account])
            if body.json()["status"] != "settled" and body.json()["cart"]:
                live_carts[account] = body.json()["cart"]

    first_account = next(iter(shoppers))
    events: list[Any] = []
    listener: threading.Thread | None = None

    def listen_after_entry(window: Window) -> None:
        nonlocal listener
        look(window)
        if listener is None and first_account in visits:
            listener = threading.Thread(
                target=read_events,
                args=(
                    live_client,
                    visits[first_account],
                    shoppers[first_account],
                    events,
                ),
            )
            listener.start()

    drive(
        live_client,
        live_store_id,
        live_gate,
        multi_recording,
        shoppers,
        visits=visits,
        on_window=listen_after_entry,
    )
    bodies = wait_for_status(live_client, list(visits.values()), live_gate, {"settled"})
    assert listener is not None
    listener.join(timeout=30)

    expected = {
        receipt.account: receipt_items(receipt.items)
        for receipt in replay(multi_recording).receipts
    }
    for account, headers in shoppers.items():
        receipts = own_receipts(live_client, headers)
        assert len(receipts) == 1
        lines = [(line["sku"], line["qty"]) for line in receipts[0]["lines"]]
        assert sorted(lines) == expected[account], account
        assert bodies[visits[account]]["status"] == "settled"
    assert live_carts, "no cart had fusion lines while the shoppers were inside"
    captures = [call for call in live_provider.calls if call.startswith("capture")]
    buyers = [account for account, items in expected.items() if items]
    assert len(captures) == len(buyers)

    statuses = [data["status"] for name, data in events if name == "status"]
    receipts_pushed = [data for name, data in events if name == "receipt"]
    assert events[0] == ("http", 200)
    assert statuses[0] == "inside"
    assert statuses[-1] == "settled"
    assert len(receipts_pushed) == 1
    assert receipts_pushed[0]["visit_id"] == visits[first_account]


def test_events_hidden_from_other_shoppers(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
) -> None:
    owner = sign_up(live_client, "owner-events@example.com")
    other = sign_up(live_client, "other-events@example.com")
    response = live_client.post(
        f"/stores/{live_store_id}/passes", json={"party_size": 1}, headers=owner
    )
    token = response.json()["token"]
    visit = live_client.post(
        f"/stores/{live_store_id}/gate/entries",
        json={"pass_token": token, "track_ids": ["q1"], "t": 1.0},
        headers=live_gate,
    ).json()

    response = live_client.get(f"/visits/{visit['id']}/events", headers=other)

    assert response.status_code == 404, response.text


def test_doubtful_lines_go_to_review(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
) -> None:
    # Without poses, takes while two shoppers are inside cannot be placed.
    recording = pad_weights(simulate(builtin_store(), "same_plate", 1), 15.0)
    shoppers = shoppers_for(live_client, recording, "review")

    visits = drive(
        live_client, live_store_id, live_gate, recording, shoppers, drop_poses=True
    )
    bodies = wait_for_status(
        live_client, list(visits.values()), live_gate, {"settled", "in_review"}
    )

    statuses = sorted(body["status"] for body in bodies.values())
    assert "in_review" in statuses
    in_review = [body for body in bodies.values() if body["status"] == "in_review"]
    assert all(body["cart"] for body in in_review)


def flat_batches(
    document: dict[str, Any], start: float, stop: float, rate_hz: float = 20.0
) -> dict[str, Any]:
    """Return one batch of constant readings on every plate from start to stop."""
    plates = [str(plate["id"]) for plate in document["plates"]]
    times = [start + i / rate_hz for i in range(int((stop - start) * rate_hz))]
    return {
        "t": [t for t in times for _ in plates],
        "plate": [plate for _ in times for plate in plates],
        "g": [1000.0 for _ in times for _ in plates],
    }


def test_restock_visit_settles_without_payment(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
    live_provider: Any,
    live_store_document: dict[str, Any],
) -> None:
    admin = log_in(live_client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    response = live_client.post(
        f"/stores/{live_store_id}/passes", json={"party_size": 1}, headers=admin
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    visit = live_client.post(
        f"/stores/{live_store_id}/gate/entries",
        json={"pass_token": token, "track_ids": ["s1"], "t": 1.0},
        headers=live_gate,
    )
    assert visit.status_code == 201, visit.text
    assert Decimal(visit.json()["hold_amount"]) == 0
    exit_reply = live_client.post(
        f"/stores/{live_store_id}/gate/exits",
        json={"track_id": "s1", "t": 3.0},
        headers=live_gate,
    )
    assert exit_reply.status_code == 200, exit_reply.text

    for index, start in enumerate(range(0, 20, 5)):
        response = live_client.post(
            f"/stores/{live_store_id}/sensors/batches",
            json={
                "batch_id": f"flat:{index}",
                "weights": flat_batches(live_store_document, start, start + 5),
            },
            headers=live_gate,
        )
        assert response.status_code == 201, response.text
    wait_for_status(live_client, [visit.json()["id"]], admin, {"settled"})

    receipts = own_receipts(live_client, admin)
    assert len(receipts) == 1
    assert receipts[0]["payment_status"] == "not_charged"
    assert Decimal(receipts[0]["total"]) == 0
    assert live_provider.calls == []
