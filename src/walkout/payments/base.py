"""The payment provider interface.

A visit's payment follows the card-present hold pattern: a hold (an
authorisation for an estimated maximum) when the shopper enters, a capture
of the receipt total when the visit settles, and refunds after that. Every
call that moves money carries an idempotency key; repeating a call with the
same key returns the first result and moves no more money.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


class PaymentStatus(enum.StrEnum):
    HELD = "held"
    CAPTURED = "captured"
    CANCELLED = "cancelled"
    DECLINED = "declined"


@dataclass(frozen=True)
class PaymentMethod:
    """A card on file as the provider stores it. It contains no card number."""

    id: str
    customer: str
    brand: str
    last4: str


@dataclass(frozen=True)
class Hold:
    id: str
    amount: Decimal
    currency: str
    status: PaymentStatus
    captured: Decimal = Decimal("0.00")
    refunded: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class Refund:
    id: str
    hold_id: str
    amount: Decimal


class PaymentError(Exception):
    """A payment call failed; ``code`` is stable and machine-readable."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class CardDeclinedError(PaymentError):
    def __init__(self, message: str, *, decline_code: str = "card_declined") -> None:
        super().__init__(decline_code, message)


class PaymentProvider(Protocol):
    """Payment operations the store calls on a payment service."""

    name: str

    def create_customer(self, account_id: str, *, email: str) -> str: ...

    def attach_card(self, customer: str, *, token: str) -> PaymentMethod: ...

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold: ...

    def capture(
        self, hold_id: str, amount: Decimal, *, idempotency_key: str
    ) -> Hold: ...

    def cancel(self, hold_id: str, *, idempotency_key: str) -> Hold: ...

    def refund(
        self, hold_id: str, amount: Decimal, *, idempotency_key: str
    ) -> Refund: ...
