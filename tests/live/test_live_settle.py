"""Settling: totals above the entry hold, reviewed visits, idempotent retries."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from live_fakes import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LiveClock,
    RecordingProvider,
    live_settings,
    log_in,
    sign_up,
)

from walkout.api.live import _visit_state
from walkout.db.migrate import upgrade
from walkout.db.models import Receipt, Visit
from walkout.service.app import create_app
from walkout.store.gates import VisitStatus
from walkout.store.visits import settle_visit


@pytest.fixture
def small_hold_client(
    live_sqlite_url: str, live_clock: LiveClock, live_provider: RecordingProvider
) -> Iterator[TestClient]:
    upgrade(live_sqlite_url)
    settings = live_settings(live_sqlite_url, entry_hold_amount="5.00")
    app = create_app(settings, provider=live_provider, clock=live_clock)
    with TestClient(app) as client:
        yield client


def ended_visit_with_cart(
    client: TestClient, document: dict[str, Any], qty: int
) -> tuple[str, dict[str, str], Decimal]:
    """Admit a shopper, add ``qty`` of the first product, exit; return the visit."""
    admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    store = client.post("/stores", json={"document": document}, headers=admin).json()[
        "id"
    ]
    shopper = sign_up(client, "big-cart@example.com")
    token = client.post(
        f"/stores/{store}/passes", json={"party_size": 1}, headers=shopper
    ).json()["token"]
    visit = client.post(
        f"/stores/{store}/gate/entries",
        json={"pass_token": token, "track_ids": ["b1"]},
        headers=admin,
    ).json()
    product = document["products"][0]
    response = client.post(
        f"/visits/{visit['id']}/cart-lines",
        json={"sku": product["sku"], "qty": qty},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    response = client.post(
        f"/stores/{store}/gate/exits", json={"track_id": "b1"}, headers=admin
    )
    assert response.status_code == 200, response.text
    return visit["id"], admin, Decimal(product["price"]) * qty


def test_total_above_hold_charges_the_rest(
    small_hold_client: TestClient,
    live_provider: RecordingProvider,
    live_store_document: dict[str, Any],
) -> None:
    price = Decimal(live_store_document["products"][0]["price"])
    qty = int(Decimal("5.00") // price) + 2
    visit_id, admin, total = ended_visit_with_cart(
        small_hold_client, live_store_document, qty
    )

    response = small_hold_client.post(f"/visits/{visit_id}/settle", headers=admin)

    assert response.status_code == 201, response.text
    assert Decimal(response.json()["total"]) == total
    rest = total - Decimal("5.00")
    assert f"hold visit-extra-hold:{visit_id} {rest}" in live_provider.calls
    assert f"capture visit-capture:{visit_id} 5.00" in live_provider.calls
    assert f"capture visit-extra-capture:{visit_id} {rest}" in live_provider.calls
    captured = sum(
        (hold.captured for hold in live_provider.holds.values()), Decimal("0.00")
    )
    assert captured == total


def test_settle_retry_charges_once(
    small_hold_client: TestClient,
    live_provider: RecordingProvider,
    live_store_document: dict[str, Any],
    live_clock: LiveClock,
) -> None:
    price = Decimal(live_store_document["products"][0]["price"])
    qty = int(Decimal("5.00") // price) + 2
    visit_id, _, total = ended_visit_with_cart(
        small_hold_client, live_store_document, qty
    )
    context = small_hold_client.app.state.context  # type: ignore[attr-defined]

    # A crash after the payments and before the commit leaves the visit
    # ended with no receipt, so settling runs again with the same keys.
    with context.session_factory() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        settle_visit(session, live_provider, visit, now=live_clock())
    with context.session_factory() as session:
        for receipt in session.scalars(
            sa.select(Receipt).where(Receipt.visit_id == visit_id)
        ):
            for line in receipt.lines:
                session.delete(line)
            session.delete(receipt)
        visit = session.get(Visit, visit_id)
        assert visit is not None
        visit.status = VisitStatus.ENDED
        session.commit()
        settle_visit(session, live_provider, visit, now=live_clock())

    captured = sum(
        (hold.captured for hold in live_provider.holds.values()), Decimal("0.00")
    )
    assert captured == total
    extra_holds = [c for c in live_provider.calls if c.startswith("hold visit-extra")]
    assert len(extra_holds) == 2
    assert len([h for h in live_provider.holds.values() if h.captured]) == 2


def test_in_review_visit_can_settle(
    live_client: TestClient,
    live_provider: RecordingProvider,
    live_store_document: dict[str, Any],
    live_clock: LiveClock,
) -> None:
    visit_id, admin, total = ended_visit_with_cart(live_client, live_store_document, 1)
    context = live_client.app.state.context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        visit.status = VisitStatus.IN_REVIEW
        session.commit()

    response = live_client.post(f"/visits/{visit_id}/settle", headers=admin)

    assert response.status_code == 201, response.text
    assert Decimal(response.json()["total"]) == total


def test_visit_state_reads_one_snapshot(
    live_client: TestClient,
    live_provider: RecordingProvider,
    live_store_document: dict[str, Any],
    live_clock: LiveClock,
) -> None:
    # A settle that commits while the event stream reads the state must not
    # yield an ended visit beside its receipt, which would end the stream
    # without a settled status.
    visit_id, _, total = ended_visit_with_cart(live_client, live_store_document, 1)
    context = live_client.app.state.context  # type: ignore[attr-defined]
    statements: list[str] = []
    settled = False

    def settle() -> None:
        nonlocal settled
        settled = True
        with context.session_factory() as session:
            visit = session.get(Visit, visit_id)
            assert visit is not None
            settle_visit(session, live_provider, visit, now=live_clock())

    reader = threading.get_ident()

    def settle_between_statements(*args: Any) -> None:
        # The app's background work shares the engine, so count only the
        # statements of this thread.
        if threading.get_ident() != reader:
            return
        statements.append(args[2])
        if not settled and len(statements) == 2:
            settle()

    sa.event.listen(context.engine, "before_cursor_execute", settle_between_statements)
    try:
        first = _visit_state(context, visit_id)
    finally:
        sa.event.remove(
            context.engine, "before_cursor_execute", settle_between_statements
        )
    # A read in a single statement leaves no gap to settle in, so settle now.
    if not settled:
        settle()
    second = _visit_state(context, visit_id)

    for status, receipt in (first, second):
        assert (receipt is not None) == (status == VisitStatus.SETTLED), status
    assert second[0] == VisitStatus.SETTLED
    assert second[1] is not None
    assert Decimal(second[1]["total"]) == total
