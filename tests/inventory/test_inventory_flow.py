"""Stock, alerts and restocks from recorded shelf changes, over the HTTP API."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from inventory_helpers import (
    STORE_ID,
    FakeClock,
    account_id,
    open_alerts,
    stock_by_plate,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from walkout.db.inventory_models import ShelfChange
from walkout.db.models import StoreEvent, Visit
from walkout.store.errors import InvalidRequestError, NotFoundError
from walkout.store.inventory import record_shelf_change

Factory = sessionmaker[Session]


def change(
    factory: Factory,
    clock: FakeClock,
    key: str,
    plate: str,
    sku: str,
    delta: int,
    *,
    visit_id: str | None = "visit-shopper",
    staff: bool = False,
) -> None:
    """Record one shelf change in its own transaction, as fusion does."""
    clock.advance(5)
    with factory() as session:
        record_shelf_change(
            session,
            STORE_ID,
            event_key=key,
            plate=plate,
            sku=sku,
            delta_units=delta,
            visit_id=visit_id,
            staff=staff,
            now=clock(),
        )
        session.commit()


def add_restock_visit(factory: Factory, staff_account: str, now: datetime) -> str:
    with factory() as session:
        session.add(
            Visit(
                id="visit-restock",
                store_id=STORE_ID,
                account_id=staff_account,
                party_size=1,
                status="active",
                entered_at=now,
                currency="USD",
                hold_amount=0,
            )
        )
        session.commit()
    return "visit-restock"


def event_names(factory: Factory) -> list[str]:
    with factory() as session:
        statement = (
            select(StoreEvent.name)
            .where(StoreEvent.store_id == STORE_ID)
            .order_by(StoreEvent.id)
        )
        return list(session.scalars(statement))


def test_stock_starts_from_planogram(client: TestClient, staff: dict[str, str]) -> None:
    stock = stock_by_plate(client, staff)

    assert stock == {
        "1.1.1/gum": 0,
        "1.1.1/water": 6,
        "1.1.2/chips": 4,
        "1.1.3/soap": 3,
        "1.1.4/soap": 2,
    }
    rows = client.get(f"/stores/{STORE_ID}/inventory", headers=staff).json()
    gum = next(row for row in rows if row["sku"] == "gum")
    assert gum["known"] is False
    assert gum["planogram_skus"] == ["water", "gum"]
    assert not any(row["misplaced"] for row in rows)
    assert open_alerts(client, staff) == set()


def test_shelf_changes_update_stock_and_alerts(
    client: TestClient,
    staff: dict[str, str],
    session_factory: Factory,
    clock: FakeClock,
) -> None:
    factory = session_factory

    change(factory, clock, "k1", "1.1.1", "water", -2)
    change(factory, clock, "k1", "1.1.1", "water", -2)
    assert stock_by_plate(client, staff)["1.1.1/water"] == 4
    assert open_alerts(client, staff) == set()

    change(factory, clock, "k2", "1.1.1", "water", -1)
    assert stock_by_plate(client, staff)["1.1.1/water"] == 3
    assert open_alerts(client, staff) == {"low_stock - water"}

    # A shopper puts chips back on the water plate.
    change(factory, clock, "k3", "1.1.1", "chips", 1)
    rows = client.get(f"/stores/{STORE_ID}/inventory", headers=staff).json()
    misplaced = [row for row in rows if row["misplaced"]]
    assert [(row["plate"], row["sku"], row["units"]) for row in misplaced] == [
        ("1.1.1", "chips", 1)
    ]
    assert open_alerts(client, staff) == {
        "low_stock - water",
        "misplaced_item 1.1.1 chips",
    }

    # Four soap from plate 1.1.4, which has 2: the rest comes from 1.1.3.
    change(factory, clock, "k4", "1.1.4", "soap", -4)
    stock = stock_by_plate(client, staff)
    assert stock["1.1.3/soap"] == 1
    assert stock["1.1.4/soap"] == 0
    assert "low_stock - soap" in open_alerts(client, staff)

    # Two more than the shelves hold: flagged, not hidden.
    change(factory, clock, "k5", "1.1.3", "soap", -2)
    assert stock_by_plate(client, staff)["1.1.3/soap"] == -1
    assert "negative_stock 1.1.3 soap" in open_alerts(client, staff)

    # The chips go back to where they belong.
    change(factory, clock, "k6", "1.1.1", "chips", -1)
    change(factory, clock, "k7", "1.1.2", "chips", 1)
    assert "misplaced_item 1.1.1 chips" not in open_alerts(client, staff)
    assert stock_by_plate(client, staff)["1.1.2/chips"] == 5

    names = event_names(factory)
    assert names.count("alert_opened") == 4
    assert names.count("alert_resolved") == 1


def test_restock_visit_resolves_alerts(
    client: TestClient,
    staff: dict[str, str],
    session_factory: Factory,
    clock: FakeClock,
) -> None:
    factory = session_factory
    change(factory, clock, "take-1", "1.1.1", "water", -5)
    change(factory, clock, "take-2", "1.1.3", "soap", -6)
    assert open_alerts(client, staff) == {
        "low_stock - water",
        "low_stock - soap",
        "negative_stock 1.1.3 soap",
    }

    staff_id = account_id(client, staff)
    visit = add_restock_visit(factory, staff_id, clock())
    change(factory, clock, "r1", "1.1.1", "water", 6, visit_id=visit, staff=True)
    change(factory, clock, "r2", "1.1.3", "soap", 5, visit_id=visit, staff=True)
    change(factory, clock, "r3", "1.1.4", "soap", 1, visit_id=visit, staff=True)
    change(factory, clock, "r4", "1.1.1", "water", -1, visit_id=visit, staff=True)
    change(factory, clock, "r2", "1.1.3", "soap", 5, visit_id=visit, staff=True)

    assert open_alerts(client, staff) == set()
    stock = stock_by_plate(client, staff)
    assert stock["1.1.1/water"] == 6
    assert stock["1.1.3/soap"] == 4
    assert stock["1.1.4/soap"] == 1

    response = client.get(f"/stores/{STORE_ID}/restocks", headers=staff)
    assert response.status_code == 200, response.text
    restocks = response.json()
    assert len(restocks) == 1
    assert restocks[0]["visit_id"] == visit
    assert restocks[0]["account_id"] == staff_id
    assert restocks[0]["units_put"] == {"water": 6, "soap": 6}
    assert restocks[0]["units_taken"] == {"water": 1}

    response = client.get(f"/stores/{STORE_ID}/alerts?state=all", headers=staff)
    states = {alert["state"] for alert in response.json()}
    assert states == {"resolved"}


def test_repeated_or_empty_change_ignored(
    client: TestClient,
    staff: dict[str, str],
    session_factory: Factory,
    clock: FakeClock,
) -> None:
    change(session_factory, clock, "same", "1.1.2", "chips", -1)
    # A replay, and a key reused with other content: both ignored.
    change(session_factory, clock, "same", "1.1.2", "chips", -1)
    change(session_factory, clock, "same", "1.1.2", "chips", -3)
    change(session_factory, clock, "zero", "1.1.2", "chips", 0)

    assert stock_by_plate(client, staff)["1.1.2/chips"] == 3
    with session_factory() as session:
        keys = list(session.scalars(select(ShelfChange.event_key)))
    assert keys == ["same"]


def test_shelf_change_rejects_bad_input(
    store_id: str, session_factory: Factory, clock: FakeClock
) -> None:
    cases: list[tuple[str, str, str, int, type[Exception]]] = [
        ("nowhere", "1.1.9", "water", -1, InvalidRequestError),
        ("unsold", "1.1.1", "caviar", -1, InvalidRequestError),
        ("long" * 64, "1.1.1", "water", -1, InvalidRequestError),
    ]
    for key, plate, sku, delta, error in cases:
        with pytest.raises(error):
            change(session_factory, clock, key, plate, sku, delta)
    with session_factory() as session, pytest.raises(NotFoundError):
        record_shelf_change(
            session,
            "no-such-store",
            event_key="k",
            plate="1.1.1",
            sku="water",
            delta_units=-1,
            visit_id=None,
            staff=False,
            now=clock(),
        )


def test_stock_count_sets_units(
    client: TestClient, staff: dict[str, str], clock: FakeClock
) -> None:
    url = f"/stores/{STORE_ID}/inventory/counts"

    response = client.post(
        url, json={"plate": "1.1.2", "sku": "chips", "units": 1}, headers=staff
    )

    assert response.status_code == 201, response.text
    assert response.json()["previous_units"] == 4
    assert response.json()["counted_units"] == 1
    assert stock_by_plate(client, staff)["1.1.2/chips"] == 1
    assert open_alerts(client, staff) == {"low_stock - chips"}

    # A count of water found on the chips plate, then its removal.
    response = client.post(
        url, json={"plate": "1.1.2", "sku": "water", "units": 2}, headers=staff
    )
    assert response.status_code == 201, response.text
    assert "misplaced_item 1.1.2 water" in open_alerts(client, staff)
    response = client.post(
        url, json={"plate": "1.1.2", "sku": "water", "units": 0}, headers=staff
    )
    assert response.status_code == 201, response.text
    assert "misplaced_item 1.1.2 water" not in open_alerts(client, staff)

    # Gum has no planogram qty: its first count makes it known.
    response = client.post(
        url, json={"plate": "1.1.1", "sku": "gum", "units": 9}, headers=staff
    )
    assert response.json()["previous_units"] is None
    products = client.get(f"/stores/{STORE_ID}/inventory/products", headers=staff)
    gum = next(row for row in products.json() if row["sku"] == "gum")
    assert gum["known"] is True
    assert gum["units_on_shelves"] == 9
    assert gum["capacity"] is None


def test_stock_count_rejects_unknown_plate(
    client: TestClient, staff: dict[str, str]
) -> None:
    url = f"/stores/{STORE_ID}/inventory/counts"
    cases = [
        ({"plate": "9.9.9", "sku": "chips", "units": 1}, "unknown_plate"),
        ({"plate": "1.1.2", "sku": "caviar", "units": 1}, "unknown_sku"),
        ({"plate": "1.1.2", "sku": "chips", "units": -1}, "invalid_request"),
    ]
    for body, code in cases:
        response = client.post(url, json=body, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code


def test_product_stock_reports_low_stock(
    client: TestClient,
    staff: dict[str, str],
    session_factory: Factory,
    clock: FakeClock,
) -> None:
    change(session_factory, clock, "k1", "1.1.3", "soap", -3)
    change(session_factory, clock, "k2", "1.1.1", "soap", 1)

    response = client.get(f"/stores/{STORE_ID}/inventory/products", headers=staff)

    assert response.status_code == 200, response.text
    soap = next(row for row in response.json() if row["sku"] == "soap")
    assert soap["units_on_shelves"] == 3
    assert soap["units_on_planogram_plates"] == 2
    assert soap["units_by_plate"] == {"1.1.1": 1, "1.1.3": 0, "1.1.4": 2}
    assert soap["planogram_plates"] == ["1.1.3", "1.1.4"]
    assert soap["capacity"] == 5
    assert soap["low_stock_units"] == 2
    assert soap["low_stock"] is True
    water = next(row for row in response.json() if row["sku"] == "water")
    assert water["low_stock_units"] == 3
    assert water["low_stock"] is False


def test_acknowledge_keeps_alert_open(
    client: TestClient,
    staff: dict[str, str],
    session_factory: Factory,
    clock: FakeClock,
) -> None:
    change(session_factory, clock, "k1", "1.1.2", "chips", -3)
    alert = client.get(f"/stores/{STORE_ID}/alerts", headers=staff).json()[0]

    url = f"/stores/{STORE_ID}/alerts/{alert['id']}/acknowledge"
    first = client.post(url, headers=staff)
    clock.advance(60)
    second = client.post(url, headers=staff)

    assert first.status_code == 200, first.text
    assert first.json()["state"] == "open"
    assert first.json()["acknowledged_by"] == account_id(client, staff)
    assert second.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    missing = client.post(f"/stores/{STORE_ID}/alerts/999/acknowledge", headers=staff)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "alert_not_found"
    assert event_names(session_factory).count("alert_acknowledged") == 1


def test_shoppers_get_403(
    client: TestClient, shopper: dict[str, str], admin: dict[str, str]
) -> None:
    requests = [
        ("GET", f"/stores/{STORE_ID}/inventory", None),
        ("GET", f"/stores/{STORE_ID}/inventory/products", None),
        ("GET", f"/stores/{STORE_ID}/alerts", None),
        ("GET", f"/stores/{STORE_ID}/restocks", None),
        (
            "POST",
            f"/stores/{STORE_ID}/inventory/counts",
            {"plate": "1.1.2", "sku": "chips", "units": 1},
        ),
        ("POST", f"/stores/{STORE_ID}/alerts/1/acknowledge", None),
    ]
    for method, url, body in requests:
        response = client.request(method, url, json=body, headers=shopper)
        assert response.status_code == 403, f"{method} {url}: {response.text}"
        assert response.json()["error"]["code"] == "not_store_staff"
        response = client.request(method, url, json=body, headers=admin)
        assert response.status_code != 403, f"{method} {url}: {response.text}"
    missing = client.get("/stores/nowhere/inventory", headers=admin)
    assert missing.status_code == 404
