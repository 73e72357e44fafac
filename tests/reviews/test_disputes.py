"""Disputes over HTTP: automatic refunds, review, bounds, privacy and retries."""

from __future__ import annotations

from decimal import Decimal

from fake_stripe import FakeStripe
from review_support import (
    Service,
    settled_receipt,
    sign_up,
    with_role,
)
from sqlalchemy import func, select

from walkout.payments.base import PaymentError
from walkout.payments.ledger_models import PaymentRefundRow


def _ledger_refunds(service: Service) -> int:
    with service.app.state.context.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(PaymentRefundRow)))


def _dispute(
    service: Service,
    shopper: dict[str, str],
    receipt_id: str,
    lines: list[dict[str, object]],
    *,
    key: str | None = None,
) -> tuple[int, dict[str, object]]:
    headers = dict(shopper)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = service.client.post(
        f"/receipts/{receipt_id}/disputes",
        json={"lines": lines, "reason": "I did not take this"},
        headers=headers,
    )
    return response.status_code, response.json()


def test_small_dispute_is_refunded_at_once(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 2, "water": 1})

    status, dispute = _dispute(
        service, shopper, receipt_id, [{"sku": "chips", "qty": 1}]
    )

    assert status == 201, dispute
    assert dispute["status"] == "refunded"
    assert dispute["amount"] == "2.25"
    assert dispute["review_id"] is None
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "2.25"
    assert [(r["sku"], r["qty"], r["cause"]) for r in receipt["refunds"]] == [
        ("chips", 1, "dispute")
    ]
    assert _ledger_refunds(service) == 1
    assert service.provider.refund_calls == [f"dispute-refund:{dispute['id']}"]


def test_dispute_bounded_by_bought_minus_refunded(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 2, "water": 1})
    first, _ = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 1}])

    status, body = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 2}])
    absent, absent_body = _dispute(
        service, shopper, receipt_id, [{"sku": "soda", "qty": 1}]
    )

    assert first == 201
    assert status == 409
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "refund_exceeds_line"
    assert "chips" in error["message"]
    assert absent == 409
    assert isinstance(absent_body["error"], dict)
    assert absent_body["error"]["code"] == "line_not_on_receipt"
    assert _ledger_refunds(service) == 1


def test_large_dispute_needs_review_approval(service: Service) -> None:
    client = service.client
    reviewer = with_role(client, service.admin, "rita@example.com", "reviewer")
    shopper = sign_up(client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 3, "water": 1})

    status, dispute = _dispute(
        service, shopper, receipt_id, [{"sku": "chips", "qty": 3}]
    )

    assert status == 201, dispute
    assert dispute["status"] == "in_review"
    assert dispute["amount"] == "6.75"
    assert _ledger_refunds(service) == 0
    queue = client.get("/reviews", params={"kind": "dispute"}, headers=reviewer).json()
    assert [case["dispute_id"] for case in queue] == [dispute["id"]]
    case_id = queue[0]["id"]
    # The claim blocks a second dispute of the same units while in review.
    again, _ = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 1}])
    assert again == 409

    decided = client.post(
        f"/reviews/{case_id}/decision",
        json={"approve": True, "note": "footage shows a put-back"},
        headers=reviewer,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "closed"
    assert decided.json()["dispute"]["status"] == "refunded"
    assert decided.json()["dispute"]["note"] == "footage shows a put-back"
    read = client.get(f"/disputes/{dispute['id']}", headers=shopper).json()
    assert read["status"] == "refunded"
    receipt = client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "6.75"
    assert _ledger_refunds(service) == 1


def test_rejected_dispute_refunds_nothing(service: Service) -> None:
    client = service.client
    shopper = sign_up(client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 3})
    _, dispute = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 3}])
    case_id = dispute["review_id"]

    decided = client.post(
        f"/reviews/{case_id}/decision",
        json={"approve": False, "note": "the shopper took all three"},
        headers=service.admin,
    )
    repeat = client.post(
        f"/reviews/{case_id}/decision",
        json={"approve": True, "note": "changed my mind"},
        headers=service.admin,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["dispute"]["status"] == "rejected"
    assert repeat.status_code == 409
    assert _ledger_refunds(service) == 0
    receipt = client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunds"] == []
    # A rejected dispute no longer counts against the line's bound.
    status, _ = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 1}])
    assert status == 201


def test_other_shopper_cannot_see_or_dispute(service: Service) -> None:
    client = service.client
    ann = sign_up(client, "ann@example.com")
    bob = sign_up(client, "bob@example.com")
    receipt_id = settled_receipt(service, ann, cart={"chips": 1})
    _, dispute = _dispute(service, ann, receipt_id, [{"sku": "chips", "qty": 1}])

    read = client.get(f"/disputes/{dispute['id']}", headers=bob)
    listed = client.get("/disputes", headers=bob)
    disputed, _ = _dispute(service, bob, receipt_id, [{"sku": "chips", "qty": 1}])
    receipt = client.get(f"/receipts/{receipt_id}", headers=bob)
    retry = client.post(f"/disputes/{dispute['id']}/refund", headers=bob)

    assert read.status_code == 404
    assert listed.json() == []
    assert disputed == 404
    assert receipt.status_code == 404
    assert retry.status_code == 404
    own = client.get("/disputes", headers=ann).json()
    assert [item["id"] for item in own] == [dispute["id"]]


def test_refund_retry_after_crash_refunds_once(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 2})
    service.provider.crash_after["refund"] = True

    crashed, _ = _dispute(
        service, shopper, receipt_id, [{"sku": "chips", "qty": 1}], key="k-1"
    )
    retried, dispute = _dispute(
        service, shopper, receipt_id, [{"sku": "chips", "qty": 1}], key="k-1"
    )

    assert crashed == 500
    assert retried == 201, dispute
    assert dispute["status"] == "refunded"
    assert _ledger_refunds(service) == 1
    assert len(set(service.provider.refund_calls)) == 1
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "2.25"
    listed = service.client.get("/disputes", headers=shopper).json()
    assert len(listed) == 1


def test_refund_failure_can_be_retried(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"water": 2})
    service.provider.fail_next["refund"] = PaymentError(
        "provider_unavailable", "the payment service did not answer"
    )

    status, body = _dispute(service, shopper, receipt_id, [{"sku": "water", "qty": 1}])

    assert status == 402
    assert isinstance(body["error"], dict)
    assert body["error"]["code"] == "provider_unavailable"
    pending = service.client.get("/disputes", headers=shopper).json()
    assert [item["status"] for item in pending] == ["refund_pending"]
    assert pending[0]["error_code"] == "provider_unavailable"

    retried = service.client.post(
        f"/disputes/{pending[0]['id']}/refund", headers=shopper
    )

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "refunded"
    assert retried.json()["error_code"] is None
    assert _ledger_refunds(service) == 1


def test_dispute_refund_on_stripe(
    stripe_service: tuple[Service, FakeStripe],
) -> None:
    service, fake = stripe_service
    shopper = sign_up(service.client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 2, "water": 1})
    service.provider.crash_after["refund"] = True

    crashed, _ = _dispute(
        service, shopper, receipt_id, [{"sku": "water", "qty": 1}], key="s-1"
    )
    retried, dispute = _dispute(
        service, shopper, receipt_id, [{"sku": "water", "qty": 1}], key="s-1"
    )

    assert crashed == 500
    assert retried == 201, dispute
    assert dispute["status"] == "refunded"
    refunds = fake.charges_of("refund")
    assert [charge.amount for charge in refunds] == [150]
    receipt = service.client.get(f"/receipts/{receipt_id}", headers=shopper).json()
    assert receipt["refunded_total"] == "1.50"
    assert Decimal(receipt["total"]) == Decimal("6.00")


def test_approval_refund_failure_is_retried(service: Service) -> None:
    client = service.client
    shopper = sign_up(client, "ann@example.com")
    receipt_id = settled_receipt(service, shopper, cart={"chips": 3})
    _, dispute = _dispute(service, shopper, receipt_id, [{"sku": "chips", "qty": 3}])
    case_id = dispute["review_id"]
    service.provider.fail_next["refund"] = PaymentError(
        "provider_unavailable", "the payment service did not answer"
    )

    decided = client.post(
        f"/reviews/{case_id}/decision",
        json={"approve": True, "note": "agreed"},
        headers=service.admin,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided"
    assert decided.json()["error"]["code"] == "provider_unavailable"
    assert decided.json()["dispute"]["status"] == "refund_pending"
    assert _ledger_refunds(service) == 0

    completed = client.post(f"/reviews/{case_id}/complete", headers=service.admin)

    assert completed.status_code == 200, completed.text
    assert completed.json()["status"] == "closed"
    assert completed.json()["dispute"]["status"] == "refunded"
    assert _ledger_refunds(service) == 1
