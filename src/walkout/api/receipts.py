"""Receipts: a shopper reads only their own."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from walkout.api.deps import CurrentAccount, SessionDep
from walkout.api.errors import ErrorBody
from walkout.db.models import Receipt
from walkout.store import visits

router = APIRouter(prefix="/receipts", tags=["receipts"])


class ReceiptLineOut(BaseModel):
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    amount: Decimal


class ReceiptOut(BaseModel):
    id: str
    visit_id: str
    store_id: str
    currency: str
    total: Decimal
    issued_at: datetime
    payment_status: str
    lines: list[ReceiptLineOut]

    @classmethod
    def from_row(cls, receipt: Receipt) -> ReceiptOut:
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
