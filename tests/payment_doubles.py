"""A payment provider kept in memory and a settable clock, for service tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentMethod,
    PaymentStatus,
    Refund,
)

# A card token whose holds are declined, as Stripe's test token of that name.
DECLINED_TOKEN = "tok_chargeDeclined"


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
        self.calls.append(f"hold {idempotency_key} {amount}")
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

    def refund(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Refund:
        raise NotImplementedError("refunds are not part of these tests")
