"""The built-in ledger provider: holds, captures and refunds kept in the database.

It moves no real money. Cards come from the test tokens in
walkout.payments.cards, and every money-moving call runs in one database
transaction that also stores its result under the idempotency key.

Concurrency: the hold row is locked (SELECT ... FOR UPDATE on PostgreSQL) and
carries a version counter, so two calls on one hold cannot both succeed from
the same state. The idempotency key is the primary key of its table, so of two
concurrent first calls with one key only one commits. The other rolls back,
reads the stored result and returns it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from walkout.payments.cards import SIMULATED_CARDS, decline_message
from walkout.payments.ledger_models import (
    PaymentCustomerRow,
    PaymentHoldRow,
    PaymentIdempotencyRow,
    PaymentMethodRow,
    PaymentRefundRow,
)
from walkout.payments.money import (
    from_minor_units,
    normalize_currency,
    require_positive,
    to_minor_units,
)

logger = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs after which the whole transaction may simply run again.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization, deadlock

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class _Outcome:
    """The result of one money-moving call, as stored under its key."""

    kind: str  # "hold", "refund" or "declined"
    body: JsonDict

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "body": self.body}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> _Outcome:
        data = json.loads(text)
        return cls(kind=data["kind"], body=data["body"])


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _request_hash(operation: str, request: JsonDict) -> str:
    canonical = json.dumps({"operation": operation, **request}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _validate_key(idempotency_key: str) -> None:
    if not idempotency_key or len(idempotency_key) > 255:
        raise PaymentError(
            "invalid_idempotency_key",
            "The idempotency key must be 1 to 255 characters long, got"
            f" {len(idempotency_key)}.",
        )


def _is_retryable(exc: Exception) -> bool:
    """Return whether a rerun of the transaction may succeed."""
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError):
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if sqlstate in _RETRYABLE_SQLSTATES:
            return True
        # SQLite reports a write that lost the race for the file lock this way.
        return "database is locked" in str(exc.orig)
    return False


def _hold_body(row: PaymentHoldRow) -> JsonDict:
    return {
        "id": row.id,
        "currency": row.currency,
        "amount_minor": row.amount_minor,
        "captured_minor": row.captured_minor,
        "refunded_minor": row.refunded_minor,
        "status": row.status,
    }


def _hold_from_body(body: JsonDict) -> Hold:
    currency = body["currency"]
    return Hold(
        id=body["id"],
        amount=from_minor_units(body["amount_minor"], currency),
        currency=currency,
        status=PaymentStatus(body["status"]),
        captured=from_minor_units(body["captured_minor"], currency),
        refunded=from_minor_units(body["refunded_minor"], currency),
    )


def _refund_from_body(body: JsonDict) -> Refund:
    return Refund(
        id=body["id"],
        hold_id=body["hold_id"],
        amount=from_minor_units(body["amount_minor"], body["currency"]),
    )


def _resolve(outcome: _Outcome) -> JsonDict:
    """Return the stored body, or raise the card decline it records."""
    if outcome.kind == "declined":
        raise CardDeclinedError(
            outcome.body["message"], decline_code=outcome.body["decline_code"]
        )
    return outcome.body


class LedgerProvider:
    """A PaymentProvider that keeps its accounts in the service database.

    ``session_factory`` returns a new SQLAlchemy Session (a ``sessionmaker``).
    ``max_attempts`` bounds the reruns of a transaction that lost a race for a
    row or a lock. Raising it trades latency under contention for fewer
    ``concurrent_update`` errors.
    """

    name = "ledger"

    def __init__(
        self, session_factory: Callable[[], Session], *, max_attempts: int = 8
    ) -> None:
        self._session_factory = session_factory
        self._max_attempts = max_attempts

    # Customers and cards: no money moves, so no idempotency key.

    def create_customer(self, account_id: str, *, email: str) -> str:
        """Create a new customer for the account and return its id."""
        customer_id = _new_id("cus")
        with self._session_factory() as session, session.begin():
            session.add(
                PaymentCustomerRow(id=customer_id, account_id=account_id, email=email)
            )
        logger.info("Created customer %s for account %s", customer_id, account_id)
        return customer_id

    def attach_card(self, customer: str, *, token: str) -> PaymentMethod:
        """Attach the test card that ``token`` names to the customer."""
        card = SIMULATED_CARDS.get(token)
        if card is None:
            raise PaymentError(
                "invalid_token",
                "The card token is not one of the ledger's test tokens; see"
                " walkout.payments.cards.SIMULATED_CARDS.",
            )

        method_id = _new_id("pm")
        with self._session_factory() as session, session.begin():
            if session.get(PaymentCustomerRow, customer) is None:
                raise PaymentError(
                    "customer_not_found", f"Customer {customer} does not exist."
                )
            session.add(
                PaymentMethodRow(
                    id=method_id,
                    customer_id=customer,
                    brand=card.brand,
                    last4=card.last4,
                    decline_code=card.decline_code,
                )
            )
        logger.info("Attached card %s to customer %s", method_id, customer)
        return PaymentMethod(
            id=method_id, customer=customer, brand=card.brand, last4=card.last4
        )

    # Money-moving calls.

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold:
        """Place a hold of ``amount`` on the card, or raise CardDeclinedError."""
        _validate_key(idempotency_key)
        code = normalize_currency(currency)
        amount_minor = to_minor_units(amount, code)
        request = {
            "customer": customer,
            "method": method,
            "amount_minor": amount_minor,
            "currency": code,
        }

        def place(session: Session, _: PaymentHoldRow | None) -> _Outcome:
            card = session.execute(
                select(PaymentMethodRow).where(
                    PaymentMethodRow.id == method,
                    PaymentMethodRow.customer_id == customer,
                )
            ).scalar_one_or_none()
            if card is None:
                raise PaymentError(
                    "payment_method_not_found",
                    f"Payment method {method} is not attached to customer {customer}.",
                )

            status = PaymentStatus.HELD
            if card.decline_code is not None:
                status = PaymentStatus.DECLINED
            row = PaymentHoldRow(
                id=_new_id("hold"),
                customer_id=customer,
                payment_method_id=method,
                currency=code,
                amount_minor=amount_minor,
                captured_minor=0,
                refunded_minor=0,
                status=status.value,
                decline_code=card.decline_code,
            )
            session.add(row)

            if card.decline_code is not None:
                logger.warning(
                    "Hold %s on %s declined: %s", row.id, method, card.decline_code
                )
                return _Outcome(
                    "declined",
                    {
                        "decline_code": card.decline_code,
                        "message": decline_message(card.decline_code),
                    },
                )
            logger.info("Placed hold %s of %s %s", row.id, amount_minor, code)
            return _Outcome("hold", _hold_body(row))

        body = self._run(idempotency_key, "hold", request, place, hold_id=None)
        return _hold_from_body(body)

    def capture(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Hold:
        """Capture ``amount`` (at most the hold) and release the rest of the hold."""
        _validate_key(idempotency_key)
        require_positive(
            amount, "Capture amount", hint="to charge nothing, cancel the hold"
        )

        def settle(session: Session, row: PaymentHoldRow | None) -> _Outcome:
            hold = self._require_hold(hold_id, row)
            amount_minor = to_minor_units(amount, hold.currency)
            self._require_status(hold, PaymentStatus.HELD)
            if amount_minor > hold.amount_minor:
                raise PaymentError(
                    "amount_exceeds_hold",
                    f"Capture of {amount} exceeds hold {hold_id} of"
                    f" {from_minor_units(hold.amount_minor, hold.currency)}"
                    f" {hold.currency.upper()}.",
                )
            hold.captured_minor = amount_minor
            hold.status = PaymentStatus.CAPTURED.value
            session.flush()
            logger.info(
                "Captured %s of hold %s (%s held)",
                amount_minor,
                hold_id,
                hold.amount_minor,
            )
            return _Outcome("hold", _hold_body(hold))

        request = {"hold_id": hold_id, "amount": str(amount.normalize())}
        body = self._run(idempotency_key, "capture", request, settle, hold_id=hold_id)
        return _hold_from_body(body)

    def cancel(self, hold_id: str, *, idempotency_key: str) -> Hold:
        """Release an uncaptured hold in full."""
        _validate_key(idempotency_key)

        def release(session: Session, row: PaymentHoldRow | None) -> _Outcome:
            hold = self._require_hold(hold_id, row)
            self._require_status(hold, PaymentStatus.HELD)
            hold.status = PaymentStatus.CANCELLED.value
            session.flush()
            logger.info("Cancelled hold %s", hold_id)
            return _Outcome("hold", _hold_body(hold))

        request = {"hold_id": hold_id}
        body = self._run(idempotency_key, "cancel", request, release, hold_id=hold_id)
        return _hold_from_body(body)

    def refund(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Refund:
        """Refund part or all of a captured hold; refunds never exceed the capture."""
        _validate_key(idempotency_key)
        require_positive(amount, "Refund amount")

        def repay(session: Session, row: PaymentHoldRow | None) -> _Outcome:
            hold = self._require_hold(hold_id, row)
            amount_minor = to_minor_units(amount, hold.currency)
            if hold.status == PaymentStatus.HELD:
                raise PaymentError(
                    "hold_not_captured",
                    f"Hold {hold_id} is not captured yet; cancel it or capture"
                    " less instead of refunding.",
                )
            self._require_status(hold, PaymentStatus.CAPTURED)
            remaining = hold.captured_minor - hold.refunded_minor
            if amount_minor > remaining:
                raise PaymentError(
                    "refund_exceeds_capture",
                    f"Refund of {amount} exceeds the"
                    f" {from_minor_units(remaining, hold.currency)}"
                    f" {hold.currency.upper()} left to refund on hold {hold_id}.",
                )

            refund = PaymentRefundRow(
                id=_new_id("re"), hold_id=hold_id, amount_minor=amount_minor
            )
            session.add(refund)
            hold.refunded_minor += amount_minor
            session.flush()
            logger.info(
                "Refunded %s of hold %s as %s", amount_minor, hold_id, refund.id
            )
            return _Outcome(
                "refund",
                {
                    "id": refund.id,
                    "hold_id": hold_id,
                    "amount_minor": amount_minor,
                    "currency": hold.currency,
                },
            )

        request = {"hold_id": hold_id, "amount": str(amount.normalize())}
        body = self._run(idempotency_key, "refund", request, repay, hold_id=hold_id)
        return _refund_from_body(body)

    # Reads.

    def get_hold(self, hold_id: str) -> Hold:
        """Return the current state of a hold, refunds included."""
        with self._session_factory() as session:
            row = session.get(PaymentHoldRow, hold_id)
            hold = self._require_hold(hold_id, row)
            return _hold_from_body(_hold_body(hold))

    # Transactions.

    def _run(
        self,
        idempotency_key: str,
        operation: str,
        request: JsonDict,
        action: Callable[[Session, PaymentHoldRow | None], _Outcome],
        *,
        hold_id: str | None,
    ) -> JsonDict:
        """Run ``action`` once per idempotency key and return its stored body.

        One transaction locks the hold (when ``hold_id`` is given), looks up
        the key, runs the action and stores its outcome under the key. A
        PaymentError raised by the action stores nothing, so the key stays
        free. Transactions that lose a race are rerun up to max_attempts times.
        """
        request_hash = _request_hash(operation, request)
        for attempt in range(1, self._max_attempts + 1):
            try:
                outcome = self._run_once(
                    idempotency_key, operation, request_hash, action, hold_id
                )
            except IntegrityError:
                # Another call committed the same key first: return its result.
                stored = self._load_key(idempotency_key, request_hash)
                if stored is None:
                    raise
                logger.info(
                    "Idempotency key %s was committed concurrently; replaying",
                    idempotency_key,
                )
                return _resolve(stored)
            except DBAPIError as exc:
                if not _is_retryable(exc):
                    raise
                self._back_off(operation, attempt, exc)
                continue
            except StaleDataError as exc:
                self._back_off(operation, attempt, exc)
                continue
            return _resolve(outcome)

        raise PaymentError(
            "concurrent_update",
            f"The {operation} call lost {self._max_attempts} races for the same"
            " hold; retry it with the same idempotency key.",
        )

    def _run_once(
        self,
        idempotency_key: str,
        operation: str,
        request_hash: str,
        action: Callable[[Session, PaymentHoldRow | None], _Outcome],
        hold_id: str | None,
    ) -> _Outcome:
        with self._session_factory() as session, session.begin():
            row = None
            if hold_id is not None:
                # Lock before the key lookup, so that a call that waited for
                # the lock reads the key that the lock holder committed.
                row = session.execute(
                    select(PaymentHoldRow)
                    .where(PaymentHoldRow.id == hold_id)
                    .with_for_update()
                ).scalar_one_or_none()

            stored = session.get(PaymentIdempotencyRow, idempotency_key)
            if stored is not None:
                _check_same_request(stored, request_hash)
                logger.debug("Replaying idempotency key %s", idempotency_key)
                return _Outcome.from_json(stored.response)

            outcome = action(session, row)
            session.add(
                PaymentIdempotencyRow(
                    key=idempotency_key,
                    operation=operation,
                    request_hash=request_hash,
                    response=outcome.to_json(),
                )
            )
        return outcome

    def _load_key(self, idempotency_key: str, request_hash: str) -> _Outcome | None:
        with self._session_factory() as session:
            stored = session.get(PaymentIdempotencyRow, idempotency_key)
            if stored is None:
                return None
            _check_same_request(stored, request_hash)
            return _Outcome.from_json(stored.response)

    def _back_off(self, operation: str, attempt: int, exc: Exception) -> None:
        logger.info(
            "Rerunning %s after a lost race (attempt %d of %d): %s",
            operation,
            attempt,
            self._max_attempts,
            type(exc).__name__,
        )
        time.sleep(min(0.005 * 2**attempt, 0.2) * (1 + secrets.randbelow(100) / 100))

    @staticmethod
    def _require_hold(hold_id: str, row: PaymentHoldRow | None) -> PaymentHoldRow:
        if row is None or row.status == PaymentStatus.DECLINED:
            raise PaymentError("hold_not_found", f"Hold {hold_id} does not exist.")
        return row

    @staticmethod
    def _require_status(hold: PaymentHoldRow, expected: PaymentStatus) -> None:
        if hold.status == expected:
            return
        if hold.status == PaymentStatus.CAPTURED:
            raise PaymentError(
                "already_captured", f"Hold {hold.id} is already captured."
            )
        if hold.status == PaymentStatus.CANCELLED:
            raise PaymentError("hold_cancelled", f"Hold {hold.id} is cancelled.")
        raise PaymentError(
            "invalid_state", f"Hold {hold.id} is {hold.status}, not {expected}."
        )


def _check_same_request(stored: PaymentIdempotencyRow, request_hash: str) -> None:
    if stored.request_hash != request_hash:
        raise PaymentError(
            "idempotency_key_reused",
            f"Idempotency key {stored.key} was first used for a different"
            f" {stored.operation} request; use a new key for a new request.",
        )
