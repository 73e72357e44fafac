"""Helpers of the review, dispute and return tests: accounts, visits, evidence."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from payment_doubles import FakeClock as FakeClock
from service_requests import ADMIN_EMAIL as ADMIN_EMAIL
from service_requests import ADMIN_PASSWORD as ADMIN_PASSWORD
from service_requests import PASSWORD as PASSWORD
from service_requests import SECRET as SECRET
from service_requests import account_id as account_id
from service_requests import bearer as bearer
from service_requests import log_in as log_in
from service_requests import make_settings as make_settings
from service_requests import sign_up as sign_up
from walkout.db.models import Account, Visit
from walkout.payments.base import Hold, PaymentMethod, PaymentProvider, Refund
from walkout.payments.ledger import LedgerProvider
from walkout.store.gates import VisitStatus
from walkout.store.reviews import LineEvidence, open_visit_review

STORE_ID = "corner"
HOLD_AMOUNT = Decimal("50.00")

STORE_DOCUMENT = {
    "format": "walkout-recording/1",
    "store": {"id": STORE_ID, "name": "Corner Store", "currency": "USD"},
    "products": [
        {
            "sku": "water",
            "name": "Water 0.5 l",
            "price": "1.50",
            "unit_weight_g": 530.0,
        },
        {"sku": "chips", "name": "Chips", "price": "2.25", "unit_weight_g": 120.0},
        {"sku": "soda", "name": "Soda", "price": "1.75", "unit_weight_g": 355.0},
    ],
    "plates": [
        {
            "id": "1.1.1",
            "gondola": 1,
            "shelf": 1,
            "plate": 1,
            "center": [0.5, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
        {
            "id": "1.1.2",
            "gondola": 1,
            "shelf": 1,
            "plate": 2,
            "center": [0.6, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
    ],
    "planogram": [
        {"sku": "water", "plates": ["1.1.1"], "qty": 6},
        {"sku": "chips", "plates": ["1.1.2"], "qty": 4},
    ],
}

OTHER_STORE_DOCUMENT = {
    **STORE_DOCUMENT,
    "store": {"id": "uptown", "name": "Uptown Store", "currency": "USD"},
}


@dataclass
class FlakyProvider:
    """Wraps a provider; ``fail_next`` makes the next call of a kind fail once.

    ``fail_next["capture"] = error`` raises ``error`` before the call;
    ``crash_after["refund"] = True`` makes the real refund and then raises
    ``RuntimeError``, as a process that dies before its commit would.
    """

    inner: PaymentProvider
    fail_next: dict[str, Exception] = field(default_factory=dict)
    crash_after: dict[str, bool] = field(default_factory=dict)
    refund_calls: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.inner.name

    def create_customer(self, account_id: str, *, email: str) -> str:
        return self.inner.create_customer(account_id, email=email)

    def attach_card(self, customer: str, *, token: str) -> PaymentMethod:
        return self.inner.attach_card(customer, token=token)

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold:
        return self.inner.hold(
            customer, method, amount, currency, idempotency_key=idempotency_key
        )

    def capture(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Hold:
        self._maybe_fail("capture")
        return self.inner.capture(hold_id, amount, idempotency_key=idempotency_key)

    def cancel(self, hold_id: str, *, idempotency_key: str) -> Hold:
        return self.inner.cancel(hold_id, idempotency_key=idempotency_key)

    def refund(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Refund:
        self.refund_calls.append(idempotency_key)
        self._maybe_fail("refund")
        refund = self.inner.refund(hold_id, amount, idempotency_key=idempotency_key)
        if self.crash_after.pop("refund", False):
            raise RuntimeError("the process died after the refund")
        return refund

    def _maybe_fail(self, kind: str) -> None:
        error = self.fail_next.pop(kind, None)
        if error is not None:
            raise error


@dataclass
class Service:
    """The app under test, its client, its provider and the admin's headers."""

    app: FastAPI
    client: TestClient
    provider: FlakyProvider
    ledger: LedgerProvider | None
    admin: dict[str, str]
    clock: FakeClock


def with_role(
    client: TestClient, admin: dict[str, str], email: str, role: str
) -> dict[str, str]:
    """Create an account with ``role`` and return its auth headers."""
    headers = sign_up(client, email, card=None)
    response = client.patch(
        f"/accounts/{account_id(client, headers)}", json={"role": role}, headers=admin
    )
    assert response.status_code == 200, response.text
    return log_in(client, email)


def staff_of(
    client: TestClient, admin: dict[str, str], email: str, store_id: str
) -> dict[str, str]:
    headers = with_role(client, admin, email, "staff")
    response = client.put(
        f"/stores/{store_id}/staff/{account_id(client, headers)}", headers=admin
    )
    assert response.status_code == 204, response.text
    return headers


def load_store(
    client: TestClient, admin: dict[str, str], document: dict[str, object]
) -> None:
    response = client.post("/stores", json={"document": document}, headers=admin)
    assert response.status_code == 201, response.text


def ended_visit(
    service: Service, shopper: dict[str, str], *, cart: dict[str, int] | None = None
) -> str:
    """Store an ended visit of the shopper with an entry hold; return its id.

    The visit row is written directly, as the gates would leave it, and the
    cart lines go through ``POST /visits/{id}/cart-lines``.
    """
    shopper_id = account_id(service.client, shopper)
    visit_id = str(uuid.uuid4())
    factory: sessionmaker[Session] = service.app.state.context.session_factory
    with factory() as session:
        account = session.get(Account, shopper_id)
        assert account is not None
        assert account.payment_customer is not None
        assert account.payment_method is not None
        hold = service.provider.hold(
            account.payment_customer,
            account.payment_method,
            HOLD_AMOUNT,
            "usd",
            idempotency_key=f"test-hold:{visit_id}",
        )
        now = service.clock()
        session.add(
            Visit(
                id=visit_id,
                store_id=STORE_ID,
                account_id=shopper_id,
                party_size=1,
                status=VisitStatus.ENDED,
                entered_at=now,
                ended_at=now,
                currency="USD",
                hold_id=hold.id,
                hold_amount=hold.amount,
            )
        )
        session.commit()
    for sku, qty in (cart or {}).items():
        line = service.client.post(
            f"/visits/{visit_id}/cart-lines",
            json={"sku": sku, "qty": qty},
            headers=service.admin,
        )
        assert line.status_code == 201, line.text
    return visit_id


def settled_receipt(
    service: Service, shopper: dict[str, str], *, cart: dict[str, int]
) -> str:
    """Store an ended visit with ``cart``, settle it and return the receipt id."""
    visit_id = ended_visit(service, shopper, cart=cart)
    settle = service.client.post(f"/visits/{visit_id}/settle", headers=service.admin)
    assert settle.status_code == 201, settle.text
    return str(settle.json()["id"])


def evidence(
    sku: str = "chips",
    qty: int = 1,
    *,
    unit_price: str = "2.25",
    reason: str = "ambiguous_shopper",
    plate: str = "1.1.2",
    visit_ids: tuple[str, ...] = ("visit-a", "visit-b"),
) -> LineEvidence:
    """Evidence of a take of ``qty`` x ``sku`` at t = 10.0 to 10.6 s by two shoppers."""
    times = [8.0 + 0.05 * index for index in range(80)]
    grams = []
    for t in times:
        if t < 10.0:
            grams.append(1000.0)
        elif t < 10.6:
            grams.append(940.0)
        else:
            grams.append(880.0)
    positions: list[dict[str, object]] = []
    for offset, visit_id in enumerate(visit_ids):
        for index in range(20):
            t = 9.5 + 0.1 * index
            positions.append(
                {
                    "track": f"p{offset + 1}",
                    "visit": visit_id,
                    "t": t,
                    "joint": "right_wrist",
                    "x": 0.6 + 0.02 * offset - 0.01 * abs(10.3 - t),
                    "y": 0.2 + 0.15 * offset,
                    "z": 1.1,
                }
            )
    return LineEvidence(
        sku=sku,
        qty=qty,
        unit_price=Decimal(unit_price),
        review_reason=reason,
        plate=plate,
        t_start=10.0,
        t_end=10.6,
        delta_g=-120.0 * qty,
        product_candidates=[(sku, 0.9), ("water", 0.1)],
        shopper_candidates=[(visit_ids[0], 0.55), (visit_ids[-1], 0.45)],
        trace=[(plate, times, grams)],
        positions=positions,
    )


def open_review(
    app: FastAPI, visit_id: str, lines: list[LineEvidence], *, now: datetime
) -> str:
    """Open a review of the visit through the domain call fusion makes."""
    factory: sessionmaker[Session] = app.state.context.session_factory
    with factory() as session:
        visit = session.get(Visit, visit_id)
        assert visit is not None
        case = open_visit_review(session, visit, lines, now=now)
        return case.id
