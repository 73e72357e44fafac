"""Visits: cart lines, settling a visit into a receipt, and who may read what."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from walkout.db.live_models import FusionCartLine, LiveVisit
from walkout.db.models import Account, CartLine, Product, Receipt, ReceiptLine, Visit
from walkout.payments.base import Hold, PaymentError, PaymentProvider
from walkout.store.accounts import Role
from walkout.store.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PaymentFailedError,
)
from walkout.store.events import EventName, record_event
from walkout.store.gates import VisitStatus
from walkout.store.stores import can_operate

logger = logging.getLogger(__name__)


def can_read_visit(session: Session, account: Account, visit: Visit) -> bool:
    """Return whether ``account`` may read ``visit`` and its receipt.

    The shopper reads their own visits; reviewers and admins read all; staff
    read those of their stores.
    """
    if account.id == visit.account_id:
        return True
    if account.role in (Role.REVIEWER, Role.ADMIN):
        return True
    return can_operate(session, account, visit.store_id)


def get_visit(session: Session, visit_id: str, *, reader: Account) -> Visit:
    """Return the visit; raise ``NotFoundError`` if absent or hidden from ``reader``."""
    visit = session.get(Visit, visit_id)
    if visit is None or not can_read_visit(session, reader, visit):
        raise NotFoundError("visit_not_found", f"visit {visit_id} not found")
    return visit


def list_own_visits(session: Session, account: Account) -> list[Visit]:
    statement = (
        select(Visit)
        .where(Visit.account_id == account.id)
        .order_by(Visit.entered_at.desc(), Visit.id)
    )
    return list(session.scalars(statement))


@dataclass(frozen=True)
class CartItem:
    sku: str
    name: str
    qty: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return self.unit_price * self.qty


@dataclass(frozen=True)
class FusionLine:
    """A cart line as fusion decided it."""

    sku: str
    qty: int
    unit_price: Decimal
    confidence: float
    review_reason: str | None


def fusion_lines(session: Session, visit_id: str) -> list[FusionCartLine]:
    statement = (
        select(FusionCartLine)
        .where(FusionCartLine.visit_id == visit_id)
        .order_by(FusionCartLine.sku)
    )
    return list(session.scalars(statement))


def replace_fusion_cart(
    session: Session, visit_id: str, lines: list[FusionLine], *, now: datetime
) -> None:
    """Replace the visit's fusion lines with ``lines``; the caller commits.

    Writing the same lines again changes nothing, so a replay after a
    restart may write them again.
    """
    current = fusion_lines(session, visit_id)
    new_lines = sorted(lines, key=lambda line: line.sku)
    same = len(current) == len(new_lines) and all(
        (row.sku, row.qty, row.unit_price, row.review_reason)
        == (line.sku, line.qty, line.unit_price, line.review_reason)
        and abs(row.confidence - line.confidence) < 1e-9
        for row, line in zip(current, new_lines, strict=True)
    )
    if same:
        return
    for row in current:
        session.delete(row)
    for line in new_lines:
        session.add(
            FusionCartLine(
                visit_id=visit_id,
                sku=line.sku,
                qty=line.qty,
                unit_price=line.unit_price,
                confidence=line.confidence,
                review_reason=line.review_reason,
                updated_at=now,
            )
        )


def cart_items(session: Session, visit: Visit) -> list[CartItem]:
    """Net the visit's takes and put-backs per sku; skus netting to zero drop out.

    The cart is fusion's lines plus the lines staff entered. A sku is
    charged at fusion's unit price, else at the unit price of its first
    staff-entered take in the visit.
    """
    quantities: dict[str, int] = {}
    prices: dict[str, Decimal] = {}
    for fusion_line in fusion_lines(session, visit.id):
        quantities[fusion_line.sku] = fusion_line.qty
        prices[fusion_line.sku] = fusion_line.unit_price
    for line in visit.cart_lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.qty
        if line.qty > 0:
            prices.setdefault(line.sku, line.unit_price)
    items = []
    for sku, qty in sorted(quantities.items()):
        if qty <= 0 or sku not in prices:
            continue
        product = session.get(Product, (visit.store_id, sku))
        name = product.name if product is not None else sku
        items.append(CartItem(sku=sku, name=name, qty=qty, unit_price=prices[sku]))
    return items


def record_cart_line(
    session: Session,
    visit: Visit,
    *,
    sku: str,
    qty: int,
    recorded_by: Account,
    now: datetime,
) -> CartLine:
    """Add a take (``qty`` > 0) or a put-back (``qty`` < 0) of ``sku`` to the cart."""
    if visit.status == VisitStatus.SETTLED:
        raise ConflictError(
            "visit_settled", f"visit {visit.id} is settled; its cart is closed"
        )
    if qty == 0:
        raise InvalidRequestError("qty_zero", "qty must be non-zero")
    product = session.get(Product, (visit.store_id, sku))
    if product is None:
        raise NotFoundError(
            "product_not_found",
            f"sku {sku!r} is not in the catalogue of store {visit.store_id!r}",
        )
    in_cart = sum(line.qty for line in visit.cart_lines if line.sku == sku) + sum(
        line.qty for line in fusion_lines(session, visit.id) if line.sku == sku
    )
    if in_cart + qty < 0:
        raise ConflictError(
            "put_back_exceeds_cart",
            f"the cart has {in_cart} of sku {sku!r}; {-qty} cannot be put back",
        )

    line = CartLine(
        visit_id=visit.id,
        sku=sku,
        qty=qty,
        unit_price=product.price,
        recorded_at=now,
        recorded_by=recorded_by.id,
    )
    visit.cart_lines.append(line)
    name = EventName.ITEM_TAKEN if qty > 0 else EventName.ITEM_RETURNED
    record_event(
        session,
        name,
        store_id=visit.store_id,
        visit_id=visit.id,
        now=now,
        sku=sku,
        qty=abs(qty),
    )
    session.commit()
    return line


# Receipt payment status of a restock visit, which charges no one.
NOT_CHARGED = "not_charged"


def is_restock(session: Session, visit: Visit) -> bool:
    live = session.get(LiveVisit, visit.id)
    return live is not None and live.restock


def settle_visit(
    session: Session, provider: PaymentProvider, visit: Visit, *, now: datetime
) -> Receipt:
    """Charge the ended visit's cart against its entry hold and issue the receipt.

    A visit that ended, or that a reviewer has decided (``in_review``), can
    settle. A cart with a positive total captures that total; an empty cart
    cancels the hold. A total above the hold is charged as two payments:
    the hold is captured in full, and the rest is held and captured on the
    same card. A restock visit charges nothing. Every payment call carries
    an idempotency key derived from the visit id, so settling again after
    a failure between a payment and the commit charges nothing twice.
    """
    if visit.status == VisitStatus.SETTLED:
        raise ConflictError("visit_settled", f"visit {visit.id} is already settled")
    if visit.status not in (VisitStatus.ENDED, VisitStatus.IN_REVIEW):
        raise ConflictError(
            "visit_not_ended",
            f"visit {visit.id} still has people inside; settle it after they exit",
        )

    restock = is_restock(session, visit)
    items = [] if restock else cart_items(session, visit)
    total = sum((item.amount for item in items), Decimal("0.00"))
    if restock:
        payment_status = NOT_CHARGED
    else:
        payment_status = _charge(session, provider, visit, total).status.value

    receipt = Receipt(
        id=str(uuid.uuid4()),
        visit_id=visit.id,
        account_id=visit.account_id,
        store_id=visit.store_id,
        currency=visit.currency,
        total=total,
        issued_at=now,
        payment_status=payment_status,
        lines=[
            ReceiptLine(
                sku=item.sku,
                name=item.name,
                qty=item.qty,
                unit_price=item.unit_price,
                amount=item.amount,
            )
            for item in items
        ],
    )
    session.add(receipt)
    visit.status = VisitStatus.SETTLED
    record_event(
        session,
        EventName.RECEIPT_ISSUED,
        store_id=visit.store_id,
        visit_id=visit.id,
        now=now,
        receipt=receipt.id,
        total=str(total),
        restock=restock,
    )
    session.commit()
    return receipt


def _charge(
    session: Session, provider: PaymentProvider, visit: Visit, total: Decimal
) -> Hold:
    """Capture ``total`` (or cancel the hold) and return the entry hold."""
    hold_id = visit.hold_id
    if hold_id is None:
        raise ConflictError(
            "hold_missing", f"visit {visit.id} has no entry hold to charge"
        )
    try:
        if total <= 0:
            return provider.cancel(hold_id, idempotency_key=f"visit-cancel:{visit.id}")
        rest = total - visit.hold_amount
        if rest <= 0:
            return provider.capture(
                hold_id, total, idempotency_key=f"visit-capture:{visit.id}"
            )
        # The rest is held before anything is captured, so a declined card
        # leaves the visit unsettled with nothing charged.
        account = session.get(Account, visit.account_id)
        if (
            account is None
            or not account.payment_customer
            or not account.payment_method
        ):
            raise ConflictError(
                "payment_method_missing",
                f"visit {visit.id} needs {rest} {visit.currency} more than its hold, "
                "and its account has no card on file",
            )
        extra = provider.hold(
            account.payment_customer,
            account.payment_method,
            rest,
            visit.currency,
            idempotency_key=f"visit-extra-hold:{visit.id}",
        )
        hold = provider.capture(
            hold_id, visit.hold_amount, idempotency_key=f"visit-capture:{visit.id}"
        )
        provider.capture(
            extra.id, rest, idempotency_key=f"visit-extra-capture:{visit.id}"
        )
        logger.info(
            "settle_above_hold store=%s visit=%s hold=%s rest=%s",
            visit.store_id,
            visit.id,
            visit.hold_amount,
            rest,
        )
        return hold
    except PaymentError as error:
        logger.error(
            "settle_failed store=%s visit=%s code=%s",
            visit.store_id,
            visit.id,
            error.code,
        )
        raise PaymentFailedError(error.code, str(error)) from error


def get_receipt(session: Session, receipt_id: str, *, reader: Account) -> Receipt:
    """Return a receipt; raise ``NotFoundError`` if absent or hidden from ``reader``."""
    receipt = session.get(Receipt, receipt_id)
    if receipt is None:
        raise NotFoundError("receipt_not_found", f"receipt {receipt_id} not found")
    visit = session.get(Visit, receipt.visit_id)
    if visit is None or not can_read_visit(session, reader, visit):
        raise NotFoundError("receipt_not_found", f"receipt {receipt_id} not found")
    return receipt


def list_own_receipts(session: Session, account: Account) -> list[Receipt]:
    statement = (
        select(Receipt)
        .where(Receipt.account_id == account.id)
        .order_by(Receipt.issued_at.desc(), Receipt.id)
    )
    return list(session.scalars(statement))
