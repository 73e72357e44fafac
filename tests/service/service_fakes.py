"""An in-memory payment provider, a settable clock and request helpers."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from fastapi.testclient import TestClient

from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from walkout.service.settings import Settings

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "correct-horse-battery"
DECLINED_TOKEN = "tok_chargeDeclined"

STORE_DOCUMENT = {
    "format": "walkout-recording/1",
    "store": {"id": "corner", "name": "Corner Store", "currency": "USD"},
    "products": [
        {
            "sku": "water",
            "name": "Water 0.5 l",
            "price": "1.50",
            "unit_weight_g": 530.0,
        },
        {"sku": "chips", "name": "Chips", "price": "2.25", "unit_weight_g": 120.0},
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


@dataclass
class FakeClock:
    now: datetime = field(
        default_factory=lambda: datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    )

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeProvider:
    """A PaymentProvider kept in dictionaries; ``tok_chargeDeclined`` declines holds."""

    name: str = "fake"
    holds: dict[str, Hold] = field(default_factory=dict)
    cards: dict[str, str] = field(default_factory=dict)
    keys: dict[str, Hold] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def create_customer(self, account_id: str, *, email: str) -> str:
        return f"cus_{account_id}"

    def attach_card(self, customer: str, *, token: str) -> PaymentMethod:
        if not token.startswith("tok_"):
            raise PaymentError("invalid_card_token", f"unknown card token {token!r}")
        method = f"pm_{len(self.cards) + 1}"
        self.cards[method] = token
        return PaymentMethod(id=method, customer=customer, brand="visa", last4="4242")

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold:
        self.calls.append(f"hold {idempotency_key}")
        if idempotency_key in self.keys:
            return self.keys[idempotency_key]
        if self.cards.get(method) == DECLINED_TOKEN:
            raise CardDeclinedError(
                "Your card was declined.", decline_code="card_declined"
            )
        hold = Hold(
            id=f"hold_{len(self.holds) + 1}",
            amount=amount,
            currency=currency,
            status=PaymentStatus.HELD,
        )
        self.holds[hold.id] = hold
        self.keys[idempotency_key] = hold
        return hold

    def capture(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Hold:
        self.calls.append(f"capture {idempotency_key} {amount}")
        if idempotency_key in self.keys:
            return self.keys[idempotency_key]
        hold = replace(
            self.holds[hold_id], status=PaymentStatus.CAPTURED, captured=amount
        )
        self.holds[hold_id] = self.keys[idempotency_key] = hold
        return hold

    def cancel(self, hold_id: str, *, idempotency_key: str) -> Hold:
        self.calls.append(f"cancel {idempotency_key}")
        hold = replace(self.holds[hold_id], status=PaymentStatus.CANCELLED)
        self.holds[hold_id] = self.keys[idempotency_key] = hold
        return hold

    def refund(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Refund:
        raise NotImplementedError("refunds are not part of these tests")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def sign_up(
    client: TestClient, email: str, *, card: str | None = "tok_visa"
) -> dict[str, str]:
    """Create a shopper, attach ``card`` unless None, and return auth headers."""
    response = client.post("/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    headers = log_in(client, email)
    if card is not None:
        response = client.put(
            "/accounts/me/card", json={"token": card}, headers=headers
        )
        assert response.status_code == 200, response.text
    return headers


def account_id(client: TestClient, headers: dict[str, str]) -> str:
    return str(client.get("/accounts/me", headers=headers).json()["id"])


SECRET = "test-secret-key-with-enough-length-0123456789"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "first_admin_email": ADMIN_EMAIL,
        "first_admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return Settings.model_validate(values)
