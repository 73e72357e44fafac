"""A payment provider that records its calls, a settable clock and HTTP helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from walkout.payments.base import Hold, PaymentError, PaymentMethod, PaymentStatus
from walkout.payments.base import Refund as PaymentRefund
from walkout.service.settings import Settings
from walkout.sim import simulate_to

LIVE_ADMIN_EMAIL = "live-admin@example.com"
LIVE_ADMIN_PASSWORD = "live-admin-password-1"
LIVE_PASSWORD = "correct-horse-battery-live"

LIVE_SECRET = "live-test-secret-key-with-enough-length-0123"


def live_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": LIVE_SECRET,
        "first_admin_email": LIVE_ADMIN_EMAIL,
        "first_admin_password": LIVE_ADMIN_PASSWORD,
        "visit_events_poll_s": 0.05,
    }
    values.update(overrides)
    return Settings.model_validate(values)


@dataclass
class LiveClock:
    now: datetime = field(
        default_factory=lambda: datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    )

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class RecordingProvider:
    """A PaymentProvider kept in dictionaries; ``calls`` lists every call."""

    name: str = "recording"
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
        self.calls.append(f"hold {idempotency_key} {amount}")
        if idempotency_key in self.keys:
            return self.keys[idempotency_key]
        hold = Hold(
            id=f"hold_{len(self.holds) + 1}",
            amount=amount,
            currency=currency,
            status=PaymentStatus.HELD,
        )
        self.holds[hold.id] = self.keys[idempotency_key] = hold
        return hold

    def capture(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Hold:
        self.calls.append(f"capture {idempotency_key} {amount}")
        if idempotency_key in self.keys:
            return self.keys[idempotency_key]
        if amount > self.holds[hold_id].amount:
            raise PaymentError("amount_too_large", "capture exceeds the hold")
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

    def refund(
        self, hold_id: str, amount: Decimal, *, idempotency_key: str
    ) -> PaymentRefund:
        raise NotImplementedError("refunds are not part of these tests")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: Any, email: str, password: str = LIVE_PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def sign_up(
    client: Any, email: str, *, card: str | None = "tok_visa"
) -> dict[str, str]:
    """Create a shopper, attach ``card`` unless None, and return auth headers."""
    response = client.post(
        "/auth/signup", json={"email": email, "password": LIVE_PASSWORD}
    )
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


def store_document(tmp_path: Path) -> dict[str, Any]:
    """Return the built-in store's store.json document."""
    out = tmp_path / "store-doc"
    simulate_to(out, "single", 1)
    document: dict[str, Any] = json.loads((out / "store.json").read_text())
    return document


def enter(
    client: Any,
    store_id: str,
    gate: dict[str, str],
    shopper: dict[str, str],
    tracks: list[str],
    t: float,
) -> dict[str, Any]:
    """Request a pass for ``shopper`` and admit ``tracks`` at sensor time ``t``."""
    response = client.post(
        f"/stores/{store_id}/passes", json={"party_size": len(tracks)}, headers=shopper
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    response = client.post(
        f"/stores/{store_id}/gate/entries",
        json={"pass_token": token, "track_ids": tracks, "t": t},
        headers=gate,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
