"""The review queue over HTTP: evidence, decisions and settling."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from review_support import (
    OTHER_STORE_DOCUMENT,
    Service,
    ended_visit,
    evidence,
    load_store,
    open_review,
    sign_up,
    with_role,
)

from walkout.db import live_models
from walkout.db.models import StoreEvent, Visit
from walkout.payments.base import PaymentError
from walkout.store.errors import ConflictError
from walkout.store.gates import VisitStatus

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _visit_status(service: Service, visit_id: str) -> str:
    with service.app.state.context.session_factory() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        return visit.status


def _event_names(service: Service, visit_id: str) -> list[str]:
    with service.app.state.context.session_factory() as session:
        events = session.query(StoreEvent).filter(StoreEvent.visit_id == visit_id)
        return [event.name for event in events.order_by(StoreEvent.id)]


def test_open_review_is_idempotent(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    visit_id = ended_visit(service, shopper)

    first = open_review(service.app, visit_id, [evidence()], now=service.clock())
    second = open_review(
        service.app, visit_id, [evidence(), evidence("water")], now=service.clock()
    )

    assert first == second
    assert _visit_status(service, visit_id) == VisitStatus.IN_REVIEW
    assert _event_names(service, visit_id).count("review_opened") == 1
    case = service.client.get(f"/reviews/{first}", headers=service.admin).json()
    assert len(case["review_lines"]) == 1


def test_queue_lists_oldest_first_by_store(service: Service) -> None:
    client, admin = service.client, service.admin
    load_store(client, admin, OTHER_STORE_DOCUMENT)
    reviewer = with_role(client, admin, "rita@example.com", "reviewer")
    ann = sign_up(client, "ann@example.com")
    bob = sign_up(client, "bob@example.com")
    first_visit = ended_visit(service, ann)
    second_visit = ended_visit(service, bob)
    first = open_review(service.app, first_visit, [evidence()], now=service.clock())
    service.clock.advance(60)
    second = open_review(service.app, second_visit, [evidence()], now=service.clock())

    listed = client.get("/reviews", headers=reviewer)
    other_store = client.get(
        "/reviews", params={"store_id": "uptown"}, headers=reviewer
    )

    assert listed.status_code == 200, listed.text
    assert [case["id"] for case in listed.json()] == [first, second]
    assert listed.json()[0]["undecided_lines"] == 1
    assert other_store.json() == []


def test_queue_rejects_shopper_and_staff(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    staff = with_role(client, admin, "sam@example.com", "staff")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())

    for headers in (shopper, staff):
        assert client.get("/reviews", headers=headers).status_code == 403
        assert client.get(f"/reviews/{case_id}", headers=headers).status_code == 403


def test_case_shows_line_evidence(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())

    case = client.get(f"/reviews/{case_id}", headers=admin).json()

    line = case["review_lines"][0]
    assert case["kind"] == "visit"
    assert case["visit_id"] == visit_id
    assert line["review_reason"] == "ambiguous_shopper"
    assert line["plate"] == "1.1.2"
    assert line["product_candidates"][0] == ["chips", 0.9]
    assert line["shopper_candidates"][0] == ["visit-a", 0.55]
    assert line["trace"][0]["plate"] == "1.1.2"
    assert len(line["trace"][0]["t"]) == 80
    assert line["positions"][0]["joint"] == "right_wrist"
    assert line["decision"] is None


def test_evidence_images_are_png(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())
    line_id = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][
        0
    ]["id"]
    base = f"/reviews/{case_id}/lines/{line_id}"

    trace = client.get(f"{base}/trace.png", headers=admin)
    top_view = client.get(f"{base}/positions.png", headers=admin)
    positions = client.get(f"{base}/positions", headers=admin)
    missing = client.get(f"/reviews/{case_id}/lines/999999/trace.png", headers=admin)

    assert trace.status_code == 200
    assert trace.headers["content-type"] == "image/png"
    assert trace.content.startswith(PNG_SIGNATURE)
    assert top_view.status_code == 200
    assert top_view.content.startswith(PNG_SIGNATURE)
    assert positions.json()["plate_center"] == [0.6, 0.5, 1.0]
    assert len(positions.json()["positions"]) == 40
    assert missing.status_code == 404


def test_decisions_charge_cart_and_settle(service: Service) -> None:
    client, admin = service.client, service.admin
    reviewer = with_role(client, admin, "rita@example.com", "reviewer")
    reviewer_id = client.get("/accounts/me", headers=reviewer).json()["id"]
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper, cart={"water": 1})
    case_id = open_review(
        service.app,
        visit_id,
        [evidence("chips", 2), evidence("water", 1, unit_price="1.50"), evidence()],
        now=service.clock(),
    )
    lines = client.get(f"/reviews/{case_id}", headers=reviewer).json()["review_lines"]
    base = f"/reviews/{case_id}/lines"

    charged = client.post(
        f"{base}/{lines[0]['id']}/decision",
        json={"decision": "charge", "note": "hand in the plate at 10.2 s"},
        headers=reviewer,
    )
    corrected = client.post(
        f"{base}/{lines[1]['id']}/decision",
        json={"decision": "correct", "sku": "soda", "qty": 2, "note": "soda can"},
        headers=reviewer,
    )
    assert charged.status_code == 200, charged.text
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["status"] == "open"
    dropped = client.post(
        f"{base}/{lines[2]['id']}/decision",
        json={"decision": "drop", "note": "the other shopper"},
        headers=reviewer,
    )

    assert dropped.status_code == 200, dropped.text
    case = dropped.json()
    assert case["status"] == "closed"
    assert case["error"] is None
    assert case["decided_by"] == reviewer_id
    assert [line["decided_qty"] for line in case["review_lines"]] == [2, 2, 0]
    assert case["review_lines"][1]["decided_sku"] == "soda"
    assert case["review_lines"][1]["decided_unit_price"] == "1.75"
    assert case["review_lines"][2]["note"] == "the other shopper"
    assert case["review_lines"][0]["decided_by"] == reviewer_id
    receipts = client.get("/receipts", headers=shopper).json()
    # water 1.50 (cart) + chips 2 x 2.25 + soda 2 x 1.75
    assert [receipt["total"] for receipt in receipts] == ["9.50"]
    assert {line["sku"]: line["qty"] for line in receipts[0]["lines"]} == {
        "chips": 2,
        "soda": 2,
        "water": 1,
    }
    assert _visit_status(service, visit_id) == VisitStatus.SETTLED
    assert "review_decided" in _event_names(service, visit_id)
    assert client.get("/reviews", headers=reviewer).json() == []


def test_decided_case_rejects_more_decisions(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())
    line_id = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][
        0
    ]["id"]
    url = f"/reviews/{case_id}/lines/{line_id}/decision"

    first = client.post(url, json={"decision": "drop"}, headers=admin)
    again = client.post(url, json={"decision": "charge"}, headers=admin)

    assert first.status_code == 200, first.text
    assert first.json()["status"] == "closed"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "review_decided"
    # Every line dropped: the empty cart cancels the hold.
    receipts = client.get("/receipts", headers=shopper).json()
    assert [receipt["payment_status"] for receipt in receipts] == ["cancelled"]


def test_correction_needs_known_sku(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())
    line_id = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][
        0
    ]["id"]
    url = f"/reviews/{case_id}/lines/{line_id}/decision"

    unknown = client.post(
        url, json={"decision": "correct", "sku": "caviar"}, headers=admin
    )
    empty = client.post(url, json={"decision": "correct"}, headers=admin)

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "product_not_found"
    assert empty.status_code == 422
    assert empty.json()["error"]["code"] == "correction_missing"


def test_payment_failure_keeps_case_decided(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())
    line_id = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][
        0
    ]["id"]
    service.provider.fail_next["capture"] = PaymentError(
        "provider_unavailable", "the payment service did not answer"
    )

    decided = client.post(
        f"/reviews/{case_id}/lines/{line_id}/decision",
        json={"decision": "charge"},
        headers=admin,
    )

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "decided"
    assert decided.json()["error"]["code"] == "provider_unavailable"
    assert _visit_status(service, visit_id) != VisitStatus.SETTLED
    assert client.get("/receipts", headers=shopper).json() == []
    assert "review_settle_failed" in _event_names(service, visit_id)

    retried = client.post(f"/reviews/{case_id}/complete", headers=admin)

    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "closed"
    assert retried.json()["error"] is None
    receipts = client.get("/receipts", headers=shopper).json()
    assert [receipt["total"] for receipt in receipts] == ["2.25"]
    # The charged line was added to the cart once, not again on the retry.
    visit = client.get(f"/visits/{visit_id}", headers=admin).json()
    assert [(item["sku"], item["qty"]) for item in visit["cart"]] == [("chips", 1)]
    assert service.ledger is not None
    hold = service.ledger.get_hold(str(_hold_id(service, visit_id)))
    assert hold.captured == Decimal("2.25")


def test_complete_rejects_open_case(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    case_id = open_review(service.app, visit_id, [evidence()], now=service.clock())

    response = client.post(f"/reviews/{case_id}/complete", headers=admin)

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "review_open"


def _hold_id(service: Service, visit_id: str) -> str | None:
    with service.app.state.context.session_factory() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        return visit.hold_id


def test_open_review_rejects_settled_visit(service: Service) -> None:
    shopper = sign_up(service.client, "ann@example.com")
    visit_id = ended_visit(service, shopper, cart={"water": 1})
    settle = service.client.post(f"/visits/{visit_id}/settle", headers=service.admin)
    assert settle.status_code == 201, settle.text

    with pytest.raises(ConflictError) as raised:
        open_review(service.app, visit_id, [evidence()], now=service.clock())

    assert raised.value.code == "visit_not_reviewable"
    assert service.client.get("/reviews", headers=service.admin).json() == []


def test_sparse_trace_still_draws(service: Service) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    sparse = replace(
        evidence(), trace=[("1.1.2", [9.0, 10.0, 10.0, 11.0], [1000, 1000, 940, 880])]
    )
    case_id = open_review(service.app, visit_id, [sparse], now=service.clock())
    line_id = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][
        0
    ]["id"]

    trace = client.get(f"/reviews/{case_id}/lines/{line_id}/trace.png", headers=admin)

    assert trace.status_code == 200
    assert trace.content.startswith(PNG_SIGNATURE)


def _add_fusion_lines(service: Service, visit_id: str) -> None:
    """Write fusion's cart: water x1 for sure, chips x2 in doubt."""
    model = getattr(live_models, "FusionCartLine", None)
    if model is None:
        pytest.skip("the live store's fusion_cart_lines table is not in this tree")
    with service.app.state.context.session_factory() as session:
        for sku, qty, price, reason in (
            ("water", 1, "1.50", None),
            ("chips", 2, "2.25", "ambiguous_shopper"),
        ):
            session.add(
                model(
                    visit_id=visit_id,
                    sku=sku,
                    qty=qty,
                    unit_price=Decimal(price),
                    confidence=0.6 if reason else 0.99,
                    review_reason=reason,
                    updated_at=service.clock(),
                )
            )
        session.commit()


@pytest.mark.parametrize(
    ("body", "total"),
    [
        ({"decision": "charge"}, "6.00"),
        ({"decision": "drop"}, "1.50"),
        ({"decision": "correct", "qty": 1}, "3.75"),
        ({"decision": "correct", "sku": "soda"}, "5.00"),
    ],
)
def test_decision_on_line_fusion_charged(
    service: Service, body: dict[str, object], total: str
) -> None:
    client, admin = service.client, service.admin
    shopper = sign_up(client, "ann@example.com")
    visit_id = ended_visit(service, shopper)
    _add_fusion_lines(service, visit_id)
    case_id = open_review(
        service.app, visit_id, [evidence("chips", 2)], now=service.clock()
    )
    line = client.get(f"/reviews/{case_id}", headers=admin).json()["review_lines"][0]

    decided = client.post(
        f"/reviews/{case_id}/lines/{line['id']}/decision", json=body, headers=admin
    )

    assert line["in_cart_qty"] == 2
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "closed"
    receipts = client.get("/receipts", headers=shopper).json()
    assert [receipt["total"] for receipt in receipts] == [total]
