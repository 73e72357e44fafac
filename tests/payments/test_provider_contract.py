"""The contract every payment provider meets, run on each backend.

Backends: the ledger on SQLite, the ledger on PostgreSQL (skipped without a
server) and the Stripe provider against the fake Stripe API.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from payment_backends import Backend

from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentStatus,
)


def card_on_file(backend: Backend, token: str = "tok_visa") -> tuple[str, str]:
    """Return (customer id, payment method id) of a new customer with a card."""
    customer = backend.provider.create_customer("acct-1", email="ada@example.com")
    method = backend.provider.attach_card(customer, token=token)
    return customer, method.id


def held(backend: Backend, amount: str = "25.00", currency: str = "eur") -> Hold:
    customer, method = card_on_file(backend)
    return backend.provider.hold(
        customer, method, Decimal(amount), currency, idempotency_key="hold-1"
    )


def test_hold_capture_refund_exact_amounts(backend: Backend) -> None:
    provider = backend.provider
    customer, method = card_on_file(backend)

    hold = provider.hold(
        customer, method, Decimal("25.00"), "EUR", idempotency_key="visit-1-hold"
    )
    assert hold.status == PaymentStatus.HELD
    assert hold.amount == Decimal("25.00")
    assert hold.currency == "eur"
    assert hold.captured == Decimal("0.00")

    captured = provider.capture(
        hold.id, Decimal("17.35"), idempotency_key="visit-1-capture"
    )
    assert captured.id == hold.id
    assert captured.status == PaymentStatus.CAPTURED
    assert captured.amount == Decimal("25.00")
    assert captured.captured == Decimal("17.35")
    assert str(captured.captured) == "17.35"

    first = provider.refund(hold.id, Decimal("5.10"), idempotency_key="refund-1")
    second = provider.refund(hold.id, Decimal("12.25"), idempotency_key="refund-2")
    assert first.hold_id == hold.id
    assert first.amount == Decimal("5.10")
    assert second.amount == Decimal("12.25")
    assert first.id != second.id
    assert first.amount + second.amount == captured.captured

    with pytest.raises(PaymentError) as excinfo:
        provider.refund(hold.id, Decimal("0.01"), idempotency_key="refund-3")
    assert excinfo.value.code == "refund_exceeds_capture"
    assert backend.captures() == 1
    assert backend.refunds() == 2


@pytest.mark.parametrize(
    ("token", "decline_code"),
    [
        ("tok_chargeDeclined", "generic_decline"),
        ("tok_chargeDeclinedInsufficientFunds", "insufficient_funds"),
        ("tok_chargeDeclinedLostCard", "lost_card"),
        ("tok_chargeDeclinedExpiredCard", "expired_card"),
        ("tok_chargeCustomerFail", "card_declined"),
    ],
)
def test_declined_card_at_hold(backend: Backend, token: str, decline_code: str) -> None:
    customer, method = card_on_file(backend, token)

    with pytest.raises(CardDeclinedError) as excinfo:
        backend.provider.hold(
            customer, method, Decimal("10.00"), "eur", idempotency_key="hold-d"
        )
    assert excinfo.value.code == decline_code
    assert backend.captures() == 0


def test_declined_hold_replayed_once(backend: Backend) -> None:
    customer, method = card_on_file(backend, "tok_chargeDeclinedInsufficientFunds")

    for _ in range(2):
        with pytest.raises(CardDeclinedError) as excinfo:
            backend.provider.hold(
                customer, method, Decimal("10.00"), "eur", idempotency_key="hold-d"
            )
        assert excinfo.value.code == "insufficient_funds"
    assert backend.hold_attempts() == 1


def test_capture_over_hold_rejected(backend: Backend) -> None:
    hold = held(backend, "20.00")

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.capture(hold.id, Decimal("20.01"), idempotency_key="cap")
    assert excinfo.value.code == "amount_exceeds_hold"
    assert backend.captures() == 0

    # The rejected request stored nothing, so the hold is still capturable.
    captured = backend.provider.capture(
        hold.id, Decimal("20.00"), idempotency_key="cap-2"
    )
    assert captured.captured == Decimal("20.00")


def test_refund_over_capture_rejected(backend: Backend) -> None:
    hold = held(backend, "20.00")
    backend.provider.capture(hold.id, Decimal("8.00"), idempotency_key="cap")

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.refund(hold.id, Decimal("8.01"), idempotency_key="re-1")
    assert excinfo.value.code == "refund_exceeds_capture"

    backend.provider.refund(hold.id, Decimal("3.00"), idempotency_key="re-2")
    with pytest.raises(PaymentError) as excinfo:
        backend.provider.refund(hold.id, Decimal("5.01"), idempotency_key="re-3")
    assert excinfo.value.code == "refund_exceeds_capture"
    assert backend.refunds() == 1


def test_repeated_hold_key_holds_once(backend: Backend) -> None:
    customer, method = card_on_file(backend)

    first = backend.provider.hold(
        customer, method, Decimal("30.00"), "eur", idempotency_key="hold-k"
    )
    second = backend.provider.hold(
        customer, method, Decimal("30.00"), "eur", idempotency_key="hold-k"
    )
    assert second == first
    assert backend.hold_attempts() == 1


def test_repeated_capture_key_charges_once(backend: Backend) -> None:
    hold = held(backend, "30.00")

    first = backend.provider.capture(hold.id, Decimal("12.40"), idempotency_key="cap")
    second = backend.provider.capture(hold.id, Decimal("12.40"), idempotency_key="cap")
    assert second == first
    assert second.captured == Decimal("12.40")
    assert backend.captures() == 1


def test_repeated_refund_key_refunds_once(backend: Backend) -> None:
    hold = held(backend, "30.00")
    backend.provider.capture(hold.id, Decimal("12.40"), idempotency_key="cap")

    first = backend.provider.refund(hold.id, Decimal("2.40"), idempotency_key="re")
    second = backend.provider.refund(hold.id, Decimal("2.40"), idempotency_key="re")
    assert second == first
    assert backend.refunds() == 1


def test_key_reuse_with_other_params_rejected(backend: Backend) -> None:
    customer, method = card_on_file(backend)
    hold = backend.provider.hold(
        customer, method, Decimal("30.00"), "eur", idempotency_key="key-a"
    )

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.hold(
            customer, method, Decimal("31.00"), "eur", idempotency_key="key-a"
        )
    assert excinfo.value.code == "idempotency_key_reused"

    backend.provider.capture(hold.id, Decimal("10.00"), idempotency_key="key-b")
    with pytest.raises(PaymentError) as excinfo:
        backend.provider.refund(hold.id, Decimal("1.00"), idempotency_key="key-b")
    assert excinfo.value.code == "idempotency_key_reused"
    assert backend.hold_attempts() == 1
    assert backend.refunds() == 0


def test_capture_after_capture_rejected(backend: Backend) -> None:
    hold = held(backend)
    backend.provider.capture(hold.id, Decimal("5.00"), idempotency_key="cap-1")

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.capture(hold.id, Decimal("5.00"), idempotency_key="cap-2")
    assert excinfo.value.code == "already_captured"

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.cancel(hold.id, idempotency_key="cancel-1")
    assert excinfo.value.code == "already_captured"
    assert backend.captures() == 1


def test_cancelled_hold_rejects_capture(backend: Backend) -> None:
    hold = held(backend)

    cancelled = backend.provider.cancel(hold.id, idempotency_key="cancel-1")
    assert cancelled.status == PaymentStatus.CANCELLED
    assert cancelled.captured == Decimal("0.00")

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.capture(hold.id, Decimal("5.00"), idempotency_key="cap-1")
    assert excinfo.value.code == "hold_cancelled"
    with pytest.raises(PaymentError) as excinfo:
        backend.provider.refund(hold.id, Decimal("5.00"), idempotency_key="re-1")
    assert excinfo.value.code == "hold_cancelled"


def test_refund_before_capture_rejected(backend: Backend) -> None:
    hold = held(backend)

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.refund(hold.id, Decimal("1.00"), idempotency_key="re-1")
    assert excinfo.value.code == "hold_not_captured"


def test_unknown_hold_not_found(backend: Backend) -> None:
    with pytest.raises(PaymentError) as excinfo:
        backend.provider.capture(
            "pi_does_not_exist", Decimal("1.00"), idempotency_key="cap-1"
        )
    assert excinfo.value.code == "hold_not_found"


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("0.00", "eur"),
        ("-5.00", "eur"),
        ("10.001", "eur"),
        ("10.5", "jpy"),
        ("NaN", "eur"),
    ],
)
def test_invalid_hold_amount_rejected(
    backend: Backend, amount: str, currency: str
) -> None:
    customer, method = card_on_file(backend)

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.hold(
            customer, method, Decimal(amount), currency, idempotency_key="hold-x"
        )
    assert excinfo.value.code == "invalid_amount"
    assert backend.hold_attempts() == 0


def test_zero_capture_rejected(backend: Backend) -> None:
    hold = held(backend)

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.capture(hold.id, Decimal("0"), idempotency_key="cap-0")
    assert excinfo.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("currency", "hold_amount", "capture_amount", "refund_amount"),
    [
        ("jpy", "1500", "1234", "234"),
        ("kwd", "5.250", "1.120", "0.020"),
        ("usd", "0.50", "0.01", "0.01"),
    ],
)
def test_currency_exponents_exact(
    backend: Backend,
    currency: str,
    hold_amount: str,
    capture_amount: str,
    refund_amount: str,
) -> None:
    hold = held(backend, hold_amount, currency)
    captured = backend.provider.capture(
        hold.id, Decimal(capture_amount), idempotency_key="cap"
    )
    refund = backend.provider.refund(
        hold.id, Decimal(refund_amount), idempotency_key="re"
    )

    assert str(hold.amount) == hold_amount
    assert str(captured.captured) == capture_amount
    assert str(refund.amount) == refund_amount


def test_unknown_token_rejected(backend: Backend) -> None:
    customer = backend.provider.create_customer("acct-1", email="ada@example.com")

    with pytest.raises(PaymentError) as excinfo:
        backend.provider.attach_card(customer, token="tok_unknown")
    assert excinfo.value.code == "invalid_token"


def test_attached_card_brand_and_last4(backend: Backend) -> None:
    customer = backend.provider.create_customer("acct-1", email="ada@example.com")

    method = backend.provider.attach_card(customer, token="tok_mastercard")
    assert method.customer == customer
    assert method.brand == "mastercard"
    assert method.last4 == "4444"
