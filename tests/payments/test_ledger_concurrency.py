"""The ledger provider under concurrent calls, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import TypeVar

import pytest
from sqlalchemy.orm import Session, sessionmaker

from walkout.payments.base import Hold, PaymentError, PaymentStatus
from walkout.payments.ledger import LedgerProvider

THREADS = 8
T = TypeVar("T")


@pytest.fixture(params=["sqlite", "postgres"])
def ledger(request: pytest.FixtureRequest) -> LedgerProvider:
    factory: sessionmaker[Session] = request.getfixturevalue(
        f"{request.param}_sessions"
    )
    return LedgerProvider(factory)


def held(ledger: LedgerProvider, amount: str = "50.00") -> Hold:
    customer = ledger.create_customer("acct-1", email="ada@example.com")
    method = ledger.attach_card(customer, token="tok_visa")
    return ledger.hold(
        customer, method.id, Decimal(amount), "eur", idempotency_key="hold-1"
    )


def run_concurrently(
    call: Callable[[], T], count: int = THREADS
) -> tuple[list[T], list[str]]:
    """Run ``call`` from ``count`` threads; return results and PaymentError codes."""

    def attempt(_: int) -> T | PaymentError:
        try:
            return call()
        except PaymentError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        results = list(pool.map(attempt, range(count)))
    values = [r for r in results if not isinstance(r, PaymentError)]
    codes = [r.code for r in results if isinstance(r, PaymentError)]
    return values, codes


def test_same_hold_key_concurrently_holds_once(ledger: LedgerProvider) -> None:
    customer = ledger.create_customer("acct-1", email="ada@example.com")
    method = ledger.attach_card(customer, token="tok_visa")

    values, codes = run_concurrently(
        lambda: ledger.hold(
            customer, method.id, Decimal("40.00"), "eur", idempotency_key="same"
        )
    )
    assert codes == []
    assert len({hold.id for hold in values}) == 1


def test_same_capture_key_concurrently_captures_once(ledger: LedgerProvider) -> None:
    hold = held(ledger)

    values, codes = run_concurrently(
        lambda: ledger.capture(hold.id, Decimal("12.00"), idempotency_key="cap")
    )
    assert codes == []
    assert all(capture == values[0] for capture in values)
    assert ledger.get_hold(hold.id).captured == Decimal("12.00")


def test_captures_with_other_keys_one_wins(ledger: LedgerProvider) -> None:
    hold = held(ledger)
    keys = iter(range(THREADS))

    values, codes = run_concurrently(
        lambda: ledger.capture(
            hold.id, Decimal("12.00"), idempotency_key=f"cap-{next(keys)}"
        )
    )
    assert len(values) == 1
    assert codes == ["already_captured"] * (THREADS - 1)
    assert ledger.get_hold(hold.id).status == PaymentStatus.CAPTURED


def test_concurrent_refunds_never_exceed_capture(ledger: LedgerProvider) -> None:
    hold = held(ledger)
    ledger.capture(hold.id, Decimal("10.00"), idempotency_key="cap")
    keys = iter(range(THREADS))

    # Eight refunds of 3.00 against 10.00 captured: only three fit.
    values, codes = run_concurrently(
        lambda: ledger.refund(
            hold.id, Decimal("3.00"), idempotency_key=f"re-{next(keys)}"
        )
    )
    assert len(values) == 3
    assert codes == ["refund_exceeds_capture"] * (THREADS - 3)
    assert ledger.get_hold(hold.id).refunded == Decimal("9.00")
    assert sum(refund.amount for refund in values) == Decimal("9.00")


def test_rejected_call_leaves_key_free(ledger: LedgerProvider) -> None:
    hold = held(ledger)

    with pytest.raises(PaymentError) as excinfo:
        ledger.refund(hold.id, Decimal("1.00"), idempotency_key="re-1")
    assert excinfo.value.code == "hold_not_captured"

    ledger.capture(hold.id, Decimal("5.00"), idempotency_key="cap")
    refund = ledger.refund(hold.id, Decimal("1.00"), idempotency_key="re-1")
    assert refund.amount == Decimal("1.00")
    assert ledger.get_hold(hold.id).refunded == Decimal("1.00")


def test_customer_and_card_checked(ledger: LedgerProvider) -> None:
    with pytest.raises(PaymentError) as excinfo:
        ledger.attach_card("cus_missing", token="tok_visa")
    assert excinfo.value.code == "customer_not_found"

    customer = ledger.create_customer("acct-1", email="ada@example.com")
    other = ledger.create_customer("acct-2", email="bob@example.com")
    method = ledger.attach_card(other, token="tok_visa")
    with pytest.raises(PaymentError) as excinfo:
        ledger.hold(customer, method.id, Decimal("1.00"), "eur", idempotency_key="h")
    assert excinfo.value.code == "payment_method_not_found"
