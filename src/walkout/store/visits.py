"""Visits: cart lines, settling a visit into a receipt, and who may read what."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from walkout.db.models import Account, CartLine, Product, Receipt, ReceiptLine, Visit
from walkout.payments.base import PaymentError, PaymentProvider
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


def cart_items(session: Session, visit: Visit) -> list[CartItem]:
    """Net the visit's takes and put-backs per sku; skus netting to zero drop out.

    A sku is charged at the unit price of its first take in the visit.
    """
    quantities: dict[str, int] = {}
    prices: dict[str, Decimal] = {}
    for line in visit.cart_lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.qty
        if line.qty > 0:
            prices.setdefault(line.sku, line.unit_price)
    items = []
    for sku, qty in sorted(quantities.items()):
        if qty <= 0:
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
    in_cart = sum(line.qty for line in visit.cart_lines if line.sku == sku)
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


def settle_visit(
    session: Session, provider: PaymentProvider, visit: Visit, *, now: datetime
) -> Receipt:
    """Charge the ended visit's cart against its entry hold and issue the receipt.

    A cart with a positive total captures that total; an empty cart cancels
    the hold. Both calls carry the visit id as idempotency key, so settling
    again after a failure between the capture and the commit charges nothing
    twice.
    """
    if visit.status == VisitStatus.SETTLED:
        raise ConflictError("visit_settled", f"visit {visit.id} is already settled")
    if visit.status != VisitStatus.ENDED:
        raise ConflictError(
            "visit_not_ended",
            f"visit {visit.id} still has people inside; settle it after they exit",
        )

    hold_id = visit.hold_id
    if hold_id is None:
        raise ConflictError(
            "hold_missing", f"visit {visit.id} has no entry hold to charge"
        )
    items = cart_items(session, visit)
    total = sum((item.amount for item in items), Decimal("0.00"))
    if total > visit.hold_amount:
        # TODO: charge the part above the hold as a separate payment; until
        # then such a visit stays unsettled and needs a reviewer.
        raise ConflictError(
            "total_exceeds_hold",
            f"the cart total {total} {visit.currency} exceeds the entry hold "
            f"of {visit.hold_amount} {visit.currency}",
        )

    try:
        if total > 0:
            hold = provider.capture(
                hold_id, total, idempotency_key=f"visit-capture:{visit.id}"
            )
        else:
            hold = provider.cancel(hold_id, idempotency_key=f"visit-cancel:{visit.id}")
    except PaymentError as error:
        logger.error(
            "settle_failed store=%s visit=%s code=%s",
            visit.store_id,
            visit.id,
            error.code,
        )
        raise PaymentFailedError(error.code, str(error)) from error

    receipt = Receipt(
        id=str(uuid.uuid4()),
        visit_id=visit.id,
        account_id=visit.account_id,
        store_id=visit.store_id,
        currency=visit.currency,
        total=total,
        issued_at=now,
        payment_status=hold.status.value,
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
    )
    session.commit()
    return receipt


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
