"""Returns scanned by store staff over HTTP: refunds, bounds and permissions."""

from __future__ import annotations

from review_support import (
    OTHER_STORE_DOCUMENT,
    STORE_ID,
    Service,
    load_store,
    settled_receipt,
    sign_up,
    staff_of,
)
from sqlalchemy import select

from walkout.db.models import StoreEvent


def _return(
    service: Service,
    headers: dict[str, str],
    receipt_id: str,
    sku: str,
    qty: int,
    *,
    store_id: str = STORE_ID,
    key: str | None = None,
) -> tuple[int, dict[str, object]]:
    request_headers = dict(headers)
    if key is not None:
        request_headers["Idempotency-Key"] = key
    response = service.client.post(
        f"/stores/{store_id}/returns",
        json={"receipt_id": receipt_id, "sku": sku, "qty": qty},
        headers=request_headers,
    )
    return response.status_code, response.json()


def test_return_refunds_bought_price(service: Service) -> None:
    staff = staff_of(service.client, service.admin, "sam@example.com", STORE_ID)
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"water": 3})

    status, body = _return(service, staff, receipt_id, "water", 2)

    assert status == 201, body
    assert body["status"] == "refunded"
    assert body["amount"] == "3.00"
    assert body["unit_price"] == "1.50"
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert [(r["sku"], r["qty"], r["cause"]) for r in receipt["refunds"]] == [
        ("water", 2, "return")
    ]
    with service.app.state.context.session_factory() as session:
        names = session.scalars(
            select(StoreEvent.name).where(StoreEvent.store_id == STORE_ID)
        ).all()
    assert "return_scanned" in names
    assert "refund_issued" in names


def test_return_bounded_with_disputes(service: Service) -> None:
    staff = staff_of(service.client, service.admin, "sam@example.com", STORE_ID)
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"water": 2})
    dispute = service.client.post(
        f"/receipts/{receipt_id}/disputes",
        json={"lines": [{"sku": "water", "qty": 1}], "reason": "double count"},
        headers=shopper,
    )
    assert dispute.status_code == 201, dispute.text

    first, _ = _return(service, staff, receipt_id, "water", 1)
    second, body = _return(service, staff, receipt_id, "water", 1)

    assert first == 201
    assert second == 409
    assert isinstance(body["error"], dict)
    assert body["error"]["code"] == "refund_exceeds_line"
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "3.00"


def test_return_rejects_staff_of_other_store(service: Service) -> None:
    load_store(service.client, service.admin, OTHER_STORE_DOCUMENT)
    other_staff = staff_of(service.client, service.admin, "oz@example.com", "uptown")
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"water": 1})

    status, body = _return(service, other_staff, receipt_id, "water", 1)
    wrong_store, _ = _return(
        service, other_staff, receipt_id, "water", 1, store_id="uptown"
    )
    shopper_status, _ = _return(service, shopper, receipt_id, "water", 1)

    assert status == 403
    assert isinstance(body["error"], dict)
    assert body["error"]["code"] == "not_store_staff"
    # The receipt is of another store.
    assert wrong_store == 404
    assert shopper_status == 403
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunds"] == []


def test_return_retry_after_crash_refunds_once(service: Service) -> None:
    staff = staff_of(service.client, service.admin, "sam@example.com", STORE_ID)
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 1})
    service.provider.crash_after["refund"] = True

    crashed, _ = _return(service, staff, receipt_id, "chips", 1, key="scan-7")
    retried, body = _return(service, staff, receipt_id, "chips", 1, key="scan-7")

    assert crashed == 500
    assert retried == 201, body
    assert body["status"] == "refunded"
    assert len(set(service.provider.refund_calls)) == 1
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "2.25"
    assert len(receipt["refunds"]) == 1


def test_return_key_reuse_is_rejected(service: Service) -> None:
    staff = staff_of(service.client, service.admin, "sam@example.com", STORE_ID)
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 1, "water": 1})

    first, _ = _return(service, staff, receipt_id, "chips", 1, key="scan-8")
    reused, body = _return(service, staff, receipt_id, "water", 1, key="scan-8")

    assert first == 201
    assert reused == 409
    assert isinstance(body["error"], dict)
    assert body["error"]["code"] == "idempotency_key_reused"
