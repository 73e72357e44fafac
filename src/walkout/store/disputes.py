"""Disputes, returns and the refunds they make on a receipt.

A refund on a receipt line never exceeds what was bought on it. Every
dispute and return counts against that bound from the moment it is stored
until it is rejected, so a refund still in flight blocks a second claim on
the same units. The dispute or return row is committed before the payment
call and its refund rows after it. The refund's idempotency key comes from
the row's id (``dispute-refund:<id>``, ``return-refund:<id>``), so a retry
after a crash between the call and the commit returns the first refund and
moves no more money.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from walkout.db.models import Account, Receipt, Visit
from walkout.db.review_models import (
    Dispute,
    DisputeLine,
    ItemReturn,
    ReceiptRefund,
    ReviewCase,
)
from walkout.payments.base import PaymentError, PaymentProvider, PaymentStatus
from walkout.store.accounts import Role
from walkout.store.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PaymentFailedError,
    StoreError,
)
from walkout.store.events import EventName, record_event
from walkout.store.reviews import CaseKind, CaseStatus, record_case_error
from walkout.store.visits import get_receipt

logger = logging.getLogger(__name__)


class DisputeStatus(enum.StrEnum):
    IN_REVIEW = "in_review"
    # Approved or under the auto-refund limit; the refund is not stored yet.
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"
    REJECTED = "rejected"


class ReturnStatus(enum.StrEnum):
    REFUND_PENDING = "refund_pending"
    REFUNDED = "refunded"


class RefundCause(enum.StrEnum):
    DISPUTE = "dispute"
    RETURN = "return"


@dataclass(frozen=True)
class ClaimedLine:
    sku: str
    qty: int


@dataclass(frozen=True)
class _Priced:
    sku: str
    qty: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.qty


def _lock_receipt(session: Session, receipt_id: str) -> Receipt:
    """Reload the receipt with a row lock, so that claims on it run one at a time.

    NOTE: SQLite ignores FOR UPDATE, so there two concurrent claims on one
    line can both pass the bound check. The provider still never refunds
    more than the capture.
    """
    receipt = session.scalars(
        select(Receipt).where(Receipt.id == receipt_id).with_for_update()
    ).one_or_none()
    if receipt is None:
        raise NotFoundError("receipt_not_found", f"receipt {receipt_id} not found")
    return receipt


def claimed_qty(session: Session, receipt_id: str, sku: str) -> int:
    """Return the units of ``sku`` refunded or claimed by open disputes and returns."""
    disputed = session.scalar(
        select(func.coalesce(func.sum(DisputeLine.qty), 0))
        .join(Dispute, Dispute.id == DisputeLine.dispute_id)
        .where(
            Dispute.receipt_id == receipt_id,
            DisputeLine.sku == sku,
            Dispute.status != DisputeStatus.REJECTED,
        )
    )
    returned = session.scalar(
        select(func.coalesce(func.sum(ItemReturn.qty), 0)).where(
            ItemReturn.receipt_id == receipt_id, ItemReturn.sku == sku
        )
    )
    return int(disputed or 0) + int(returned or 0)


def _price_claims(
    session: Session, receipt: Receipt, claims: list[ClaimedLine]
) -> list[_Priced]:
    """Price each claimed line at its bought unit price within the line's bound.

    Raises ``ConflictError`` naming the first line whose qty exceeds what was
    bought minus what was already refunded or claimed.
    """
    merged: dict[str, int] = {}
    for claim in claims:
        if claim.qty <= 0:
            raise InvalidRequestError(
                "qty_not_positive", f"line sku {claim.sku!r}: qty must be positive"
            )
        merged[claim.sku] = merged.get(claim.sku, 0) + claim.qty
    if not merged:
        raise InvalidRequestError("lines_missing", "name at least one receipt line")

    bought = {line.sku: line for line in receipt.lines}
    priced = []
    for sku, qty in merged.items():
        line = bought.get(sku)
        if line is None:
            raise ConflictError(
                "line_not_on_receipt",
                f"line sku {sku!r} is not on receipt {receipt.id}",
            )
        claimed = claimed_qty(session, receipt.id, sku)
        available = line.qty - claimed
        if qty > available:
            raise ConflictError(
                "refund_exceeds_line",
                f"line sku {sku!r}: {qty} requested, but {line.qty} were bought "
                f"and {claimed} are already refunded or claimed; at most "
                f"{max(available, 0)} can be refunded",
            )
        priced.append(_Priced(sku=sku, qty=qty, unit_price=line.unit_price))
    return priced


def _require_captured(receipt: Receipt) -> None:
    if receipt.payment_status != PaymentStatus.CAPTURED:
        raise ConflictError(
            "receipt_not_charged",
            f"receipt {receipt.id} charged nothing, so nothing can be refunded",
        )


def _hold_of(session: Session, receipt: Receipt) -> str:
    visit = session.get(Visit, receipt.visit_id)
    if visit is None or visit.hold_id is None:
        raise ConflictError(
            "hold_missing", f"the visit of receipt {receipt.id} has no payment"
        )
    return visit.hold_id


def _refund(
    session: Session,
    provider: PaymentProvider,
    receipt: Receipt,
    lines: list[_Priced],
    *,
    cause: RefundCause,
    source_id: str,
    now: datetime,
) -> list[ReceiptRefund]:
    """Refund ``lines`` through the provider and store one row per line.

    Does not commit. Returns the stored rows without a provider call when
    they exist already. Raises ``PaymentFailedError`` when the provider fails.
    """
    key = f"{cause.value}-refund:{source_id}"
    stored = list(
        session.scalars(
            select(ReceiptRefund).where(ReceiptRefund.idempotency_key == key)
        )
    )
    if stored:
        return stored
    amount = sum((line.amount for line in lines), Decimal("0.00"))
    hold_id = _hold_of(session, receipt)
    try:
        refund = provider.refund(hold_id, amount, idempotency_key=key)
    except PaymentError as error:
        logger.error(
            "refund_failed store=%s receipt=%s %s=%s code=%s",
            receipt.store_id,
            receipt.id,
            cause.value,
            source_id,
            error.code,
        )
        raise PaymentFailedError(
            error.code, f"the refund of {cause.value} {source_id} failed: {error}"
        ) from error

    rows = [
        ReceiptRefund(
            receipt_id=receipt.id,
            sku=line.sku,
            qty=line.qty,
            amount=line.amount,
            cause=cause,
            dispute_id=source_id if cause == RefundCause.DISPUTE else None,
            return_id=source_id if cause == RefundCause.RETURN else None,
            provider_refund_id=refund.id,
            idempotency_key=key,
            refunded_at=now,
        )
        for line in lines
    ]
    session.add_all(rows)
    record_event(
        session,
        EventName.REFUND_ISSUED,
        store_id=receipt.store_id,
        visit_id=receipt.visit_id,
        now=now,
        receipt=receipt.id,
        cause=cause.value,
        source=source_id,
        amount=str(amount),
        refund=refund.id,
    )
    return rows


def _record_refund_failure(
    session: Session,
    receipt: Receipt,
    *,
    cause: RefundCause,
    source_id: str,
    code: str,
    now: datetime,
) -> None:
    record_event(
        session,
        EventName.REFUND_FAILED,
        store_id=receipt.store_id,
        visit_id=receipt.visit_id,
        now=now,
        receipt=receipt.id,
        cause=cause.value,
        source=source_id,
        code=code,
    )


def _key_reused(request_key: str) -> ConflictError:
    return ConflictError(
        "idempotency_key_reused",
        f"Idempotency-Key {request_key!r} was used for another request; send a new key",
    )


# Disputes.


def _dispute_lines(dispute: Dispute) -> list[_Priced]:
    return [
        _Priced(sku=line.sku, qty=line.qty, unit_price=line.unit_price)
        for line in dispute.lines
    ]


def _find_dispute_by_key(
    session: Session, account: Account, request_key: str
) -> Dispute | None:
    statement = select(Dispute).where(
        Dispute.account_id == account.id, Dispute.request_key == request_key
    )
    return session.scalars(statement).one_or_none()


def open_dispute(
    session: Session,
    provider: PaymentProvider,
    *,
    receipt_id: str,
    lines: list[ClaimedLine],
    reason: str,
    shopper: Account,
    auto_refund_limit: Decimal,
    now: datetime,
    request_key: str | None = None,
) -> Dispute:
    """Store a shopper's dispute of receipt lines and refund it or open a review.

    A dispute of at most ``auto_refund_limit`` is refunded at once; a larger
    one opens a review case of kind ``dispute``. Only the receipt's owner
    may dispute it. A repeated ``request_key`` returns the first dispute and
    finishes its refund if that was interrupted.
    """
    if request_key is not None:
        existing = _find_dispute_by_key(session, shopper, request_key)
        if existing is not None:
            if existing.receipt_id != receipt_id:
                raise _key_reused(request_key)
            if existing.status == DisputeStatus.REFUND_PENDING:
                return refund_dispute(session, provider, existing, now=now)
            return existing

    receipt = get_receipt(session, receipt_id, reader=shopper)
    if receipt.account_id != shopper.id:
        # Staff and reviewers may read the receipt, but only its owner disputes it.
        raise NotFoundError("receipt_not_found", f"receipt {receipt_id} not found")
    _require_captured(receipt)
    receipt = _lock_receipt(session, receipt.id)
    priced = _price_claims(session, receipt, lines)
    amount = sum((line.amount for line in priced), Decimal("0.00"))
    automatic = amount <= auto_refund_limit

    dispute = Dispute(
        id=str(uuid.uuid4()),
        receipt_id=receipt.id,
        account_id=shopper.id,
        store_id=receipt.store_id,
        reason=reason,
        status=DisputeStatus.REFUND_PENDING if automatic else DisputeStatus.IN_REVIEW,
        amount=amount,
        currency=receipt.currency,
        request_key=request_key,
        created_at=now,
        lines=[
            DisputeLine(
                sku=line.sku,
                qty=line.qty,
                unit_price=line.unit_price,
                amount=line.amount,
            )
            for line in priced
        ],
    )
    session.add(dispute)
    case = None
    if not automatic:
        case = ReviewCase(
            id=str(uuid.uuid4()),
            kind=CaseKind.DISPUTE,
            status=CaseStatus.OPEN,
            store_id=receipt.store_id,
            dispute_id=dispute.id,
            opened_at=now,
        )
        session.add(case)
    record_event(
        session,
        EventName.DISPUTE_OPENED,
        store_id=receipt.store_id,
        visit_id=receipt.visit_id,
        now=now,
        dispute=dispute.id,
        receipt=receipt.id,
        amount=str(amount),
        review=case.id if case is not None else None,
    )
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key stored its dispute first.
        session.rollback()
        if request_key is None:
            raise
        existing = _find_dispute_by_key(session, shopper, request_key)
        if existing is None:
            raise
        return existing

    if automatic:
        return refund_dispute(session, provider, dispute, now=now)
    return dispute


def refund_dispute(
    session: Session, provider: PaymentProvider, dispute: Dispute, *, now: datetime
) -> Dispute:
    """Refund a dispute in ``refund_pending``; a refunded one is returned as it is.

    Raises ``PaymentFailedError`` after storing the error code; the dispute
    stays pending, and calling this again retries with the same key.
    """
    if dispute.status == DisputeStatus.REFUNDED:
        return dispute
    if dispute.status != DisputeStatus.REFUND_PENDING:
        raise ConflictError(
            "dispute_not_approved",
            f"dispute {dispute.id} is {dispute.status}; only an approved dispute "
            "is refunded",
        )
    receipt = session.get(Receipt, dispute.receipt_id)
    if receipt is None:
        raise NotFoundError(
            "receipt_not_found", f"receipt {dispute.receipt_id} not found"
        )
    _refund_or_record_failure(
        session,
        provider,
        receipt,
        _dispute_lines(dispute),
        cause=RefundCause.DISPUTE,
        source=dispute,
        now=now,
    )
    dispute.status = DisputeStatus.REFUNDED
    dispute.error_code = None
    session.commit()
    return dispute


def _refund_or_record_failure(
    session: Session,
    provider: PaymentProvider,
    receipt: Receipt,
    lines: list[_Priced],
    *,
    cause: RefundCause,
    source: Dispute | ItemReturn,
    now: datetime,
) -> None:
    """Refund ``lines``; on failure store the error on ``source`` and re-raise."""
    try:
        _refund(
            session,
            provider,
            receipt,
            lines,
            cause=cause,
            source_id=source.id,
            now=now,
        )
    except StoreError as error:
        session.rollback()
        source.error_code = error.code
        _record_refund_failure(
            session, receipt, cause=cause, source_id=source.id, code=error.code, now=now
        )
        session.commit()
        raise


def get_dispute(session: Session, dispute_id: str, *, reader: Account) -> Dispute:
    """Return a dispute to its owner, reviewers and admins; 404 for anyone else."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None or not (
        dispute.account_id == reader.id or reader.role in (Role.REVIEWER, Role.ADMIN)
    ):
        raise NotFoundError("dispute_not_found", f"dispute {dispute_id} not found")
    return dispute


def list_own_disputes(session: Session, account: Account) -> list[Dispute]:
    statement = (
        select(Dispute)
        .where(Dispute.account_id == account.id)
        .order_by(Dispute.created_at.desc(), Dispute.id)
    )
    return list(session.scalars(statement))


def case_of_dispute(session: Session, dispute_id: str) -> ReviewCase | None:
    statement = select(ReviewCase).where(ReviewCase.dispute_id == dispute_id)
    return session.scalars(statement).one_or_none()


def decide_dispute(
    session: Session,
    provider: PaymentProvider,
    case: ReviewCase,
    *,
    approve: bool,
    note: str,
    reviewer: Account,
    now: datetime,
) -> ReviewCase:
    """Approve (and refund) or reject the dispute of a case of kind ``dispute``.

    A failed refund leaves the case ``decided`` with the error stored;
    ``complete_case`` retries it.
    """
    if case.kind != CaseKind.DISPUTE or case.dispute_id is None:
        raise ConflictError(
            "review_kind_mismatch",
            f"review case {case.id} is a {case.kind} case; decide its lines instead",
        )
    if case.status != CaseStatus.OPEN:
        raise ConflictError(
            "review_decided", f"review case {case.id} is already {case.status}"
        )
    dispute = session.get(Dispute, case.dispute_id)
    if dispute is None:
        raise NotFoundError("dispute_not_found", f"dispute {case.dispute_id} not found")

    case.status = CaseStatus.DECIDED
    case.decided_at = dispute.decided_at = now
    case.decided_by = dispute.decided_by = reviewer.id
    case.note = dispute.note = note
    dispute.status = DisputeStatus.REFUND_PENDING if approve else DisputeStatus.REJECTED
    if not approve:
        case.status = CaseStatus.CLOSED
        case.closed_at = now
        record_event(
            session,
            EventName.DISPUTE_REJECTED,
            store_id=case.store_id,
            now=now,
            dispute=dispute.id,
            case=case.id,
            reviewer=reviewer.id,
        )
    record_event(
        session,
        EventName.REVIEW_DECIDED,
        store_id=case.store_id,
        now=now,
        case=case.id,
        dispute=dispute.id,
        approved=approve,
        reviewer=reviewer.id,
    )
    session.commit()
    if approve:
        # A failure is stored on the case; complete_case retries it.
        with contextlib.suppress(StoreError):
            complete_dispute_case(session, provider, case, now=now)
    return case


def complete_dispute_case(
    session: Session, provider: PaymentProvider, case: ReviewCase, *, now: datetime
) -> ReviewCase:
    """Refund the approved dispute of ``case`` and close the case."""
    if case.dispute_id is None:
        raise ConflictError("review_kind_mismatch", f"case {case.id} has no dispute")
    dispute = session.get(Dispute, case.dispute_id)
    if dispute is None:
        raise NotFoundError("dispute_not_found", f"dispute {case.dispute_id} not found")
    if dispute.status != DisputeStatus.REJECTED:
        try:
            refund_dispute(session, provider, dispute, now=now)
        except StoreError as error:
            record_case_error(session, case, error, now=now)
            raise
    case.status = CaseStatus.CLOSED
    case.closed_at = now
    case.error_code = None
    case.error_message = None
    session.commit()
    return case


# Returns.


def _find_return_by_key(
    session: Session, store_id: str, request_key: str
) -> ItemReturn | None:
    statement = select(ItemReturn).where(
        ItemReturn.store_id == store_id, ItemReturn.request_key == request_key
    )
    return session.scalars(statement).one_or_none()


def accept_return(
    session: Session,
    provider: PaymentProvider,
    *,
    store_id: str,
    receipt_id: str,
    sku: str,
    qty: int,
    staff: Account,
    now: datetime,
    request_key: str | None = None,
) -> ItemReturn:
    """Refund an unopened item that staff took back, at its bought unit price.

    The caller checks that ``staff`` operates ``store_id``. A repeated
    ``request_key`` returns the first return and finishes its refund if that
    was interrupted.
    """
    if request_key is not None:
        existing = _find_return_by_key(session, store_id, request_key)
        if existing is not None:
            same = (existing.receipt_id, existing.sku, existing.qty)
            if same != (receipt_id, sku, qty):
                raise _key_reused(request_key)
            return refund_return(session, provider, existing, now=now)

    receipt = session.get(Receipt, receipt_id)
    if receipt is None or receipt.store_id != store_id:
        raise NotFoundError(
            "receipt_not_found", f"receipt {receipt_id} not found in store {store_id!r}"
        )
    _require_captured(receipt)
    receipt = _lock_receipt(session, receipt.id)
    (priced,) = _price_claims(session, receipt, [ClaimedLine(sku=sku, qty=qty)])

    item_return = ItemReturn(
        id=str(uuid.uuid4()),
        store_id=store_id,
        receipt_id=receipt.id,
        sku=priced.sku,
        qty=priced.qty,
        unit_price=priced.unit_price,
        amount=priced.amount,
        status=ReturnStatus.REFUND_PENDING,
        scanned_by=staff.id,
        request_key=request_key,
        created_at=now,
    )
    session.add(item_return)
    record_event(
        session,
        EventName.RETURN_SCANNED,
        store_id=store_id,
        visit_id=receipt.visit_id,
        now=now,
        item_return=item_return.id,
        receipt=receipt.id,
        sku=sku,
        qty=qty,
        staff=staff.id,
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if request_key is None:
            raise
        existing = _find_return_by_key(session, store_id, request_key)
        if existing is None:
            raise
        return existing
    return refund_return(session, provider, item_return, now=now)


def refund_return(
    session: Session,
    provider: PaymentProvider,
    item_return: ItemReturn,
    *,
    now: datetime,
) -> ItemReturn:
    """Refund a pending return; raise ``PaymentFailedError`` after storing the code."""
    if item_return.status == ReturnStatus.REFUNDED:
        return item_return
    receipt = session.get(Receipt, item_return.receipt_id)
    if receipt is None:
        raise NotFoundError(
            "receipt_not_found", f"receipt {item_return.receipt_id} not found"
        )
    line = _Priced(
        sku=item_return.sku, qty=item_return.qty, unit_price=item_return.unit_price
    )
    _refund_or_record_failure(
        session,
        provider,
        receipt,
        [line],
        cause=RefundCause.RETURN,
        source=item_return,
        now=now,
    )
    item_return.status = ReturnStatus.REFUNDED
    item_return.error_code = None
    session.commit()
    return item_return


def get_return(session: Session, store_id: str, return_id: str) -> ItemReturn:
    item_return = session.get(ItemReturn, return_id)
    if item_return is None or item_return.store_id != store_id:
        raise NotFoundError(
            "return_not_found", f"return {return_id} not found in store {store_id!r}"
        )
    return item_return


def refunds_of_receipt(session: Session, receipt_id: str) -> list[ReceiptRefund]:
    statement = (
        select(ReceiptRefund)
        .where(ReceiptRefund.receipt_id == receipt_id)
        .order_by(ReceiptRefund.refunded_at, ReceiptRefund.id)
    )
    return list(session.scalars(statement))
