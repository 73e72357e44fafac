"""Receipts: a shopper reads only their own, with the refunds made on them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel
from sqlalchemy.orm import object_session

from walkout.api.deps import CurrentAccount, SessionDep
from walkout.api.errors import ErrorBody
from walkout.db.models import Receipt
from walkout.db.review_models import ReceiptRefund
from walkout.store import visits
from walkout.store.disputes import refunds_of_receipt

router = APIRouter(prefix="/receipts", tags=["receipts"])


class ReceiptLineOut(BaseModel):
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    amount: Decimal


class RefundOut(BaseModel):
    """Money returned on one receipt line by a dispute or a return."""

    sku: str
    qty: int
    amount: Decimal
    cause: str
    dispute_id: str | None
    return_id: str | None
    refunded_at: datetime

    @classmethod
    def from_row(cls, refund: ReceiptRefund) -> RefundOut:
        return cls(
            sku=refund.sku,
            qty=refund.qty,
            amount=refund.amount,
            cause=refund.cause,
            dispute_id=refund.dispute_id,
            return_id=refund.return_id,
            refunded_at=refund.refunded_at,
        )


class ReceiptOut(BaseModel):
    id: str
    visit_id: str
    store_id: str
    currency: str
    total: Decimal
    issued_at: datetime
    payment_status: str
    lines: list[ReceiptLineOut]
    refunds: list[RefundOut]
    refunded_total: Decimal

    @classmethod
    def from_row(cls, receipt: Receipt) -> ReceiptOut:
        session = object_session(receipt)
        refunds = [] if session is None else refunds_of_receipt(session, receipt.id)
        return cls(
            id=receipt.id,
            visit_id=receipt.visit_id,
            store_id=receipt.store_id,
            currency=receipt.currency,
            total=receipt.total,
            issued_at=receipt.issued_at,
            payment_status=receipt.payment_status,
            lines=[
                ReceiptLineOut(
                    sku=line.sku,
                    name=line.name,
                    qty=line.qty,
                    unit_price=line.unit_price,
                    amount=line.amount,
                )
                for line in receipt.lines
            ],
            refunds=[RefundOut.from_row(refund) for refund in refunds],
            refunded_total=sum((refund.amount for refund in refunds), Decimal("0.00")),
        )


@router.get("")
def list_receipts(account: CurrentAccount, session: SessionDep) -> list[ReceiptOut]:
    """Return the caller's own receipts, newest first."""
    return [
        ReceiptOut.from_row(receipt)
        for receipt in visits.list_own_receipts(session, account)
    ]


@router.get("/{receipt_id}", responses={404: {"model": ErrorBody}})
def read_receipt(
    receipt_id: Annotated[str, Path(max_length=36)],
    account: CurrentAccount,
    session: SessionDep,
) -> ReceiptOut:
    """Return one receipt; another shopper's receipt reads as not found."""
    return ReceiptOut.from_row(visits.get_receipt(session, receipt_id, reader=account))
