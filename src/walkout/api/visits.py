"""Visits: the shopper's own visits, cart lines and settling by store staff."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from walkout.api.deps import CurrentAccount, NowDep, ProviderDep, SessionDep
from walkout.api.errors import ErrorBody
from walkout.api.receipts import ReceiptOut
from walkout.db.models import Account, Visit
from walkout.store import visits
from walkout.store.accounts import Role
from walkout.store.errors import PermissionDeniedError
from walkout.store.gates import VisitStatus
from walkout.store.stores import can_operate

router = APIRouter(prefix="/visits", tags=["visits"])

VisitId = Annotated[str, Path(max_length=36)]


class TrackOut(BaseModel):
    track_id: str
    entered_at: datetime
    exited_at: datetime | None


class CartItemOut(BaseModel):
    sku: str
    name: str
    qty: int
    unit_price: Decimal
    amount: Decimal


class VisitOut(BaseModel):
    id: str
    store_id: str
    account_id: str
    party_size: int
    status: VisitStatus
    entered_at: datetime
    ended_at: datetime | None
    currency: str
    hold_amount: Decimal
    tracks: list[TrackOut]
    cart: list[CartItemOut]


class CartLineIn(BaseModel):
    sku: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    qty: int = Field(ge=-100, le=100, description="units taken (> 0) or put back (< 0)")


def visit_out(session: Session, visit: Visit) -> VisitOut:
    return VisitOut(
        id=visit.id,
        store_id=visit.store_id,
        account_id=visit.account_id,
        party_size=visit.party_size,
        status=VisitStatus(visit.status),
        entered_at=visit.entered_at,
        ended_at=visit.ended_at,
        currency=visit.currency,
        hold_amount=visit.hold_amount,
        tracks=[
            TrackOut(
                track_id=track.track_id,
                entered_at=track.entered_at,
                exited_at=track.exited_at,
            )
            for track in visit.tracks
        ],
        cart=[
            CartItemOut(
                sku=item.sku,
                name=item.name,
                qty=item.qty,
                unit_price=item.unit_price,
                amount=item.amount,
            )
            for item in visits.cart_items(session, visit)
        ],
    )


def _require_operator(session: Session, account: Account, visit: Visit) -> None:
    if account.role == Role.REVIEWER or can_operate(session, account, visit.store_id):
        return
    raise PermissionDeniedError(
        "not_store_staff",
        f"only staff of store {visit.store_id!r}, reviewers and admins change a visit",
    )


@router.get("")
def list_visits(account: CurrentAccount, session: SessionDep) -> list[VisitOut]:
    """Return the caller's own visits, newest first."""
    return [
        visit_out(session, visit) for visit in visits.list_own_visits(session, account)
    ]


@router.get("/{visit_id}", responses={404: {"model": ErrorBody}})
def read_visit(
    visit_id: VisitId, account: CurrentAccount, session: SessionDep
) -> VisitOut:
    return visit_out(session, visits.get_visit(session, visit_id, reader=account))


@router.post(
    "/{visit_id}/cart-lines",
    status_code=status.HTTP_201_CREATED,
    responses={
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def add_cart_line(
    visit_id: VisitId,
    body: CartLineIn,
    account: CurrentAccount,
    session: SessionDep,
    now: NowDep,
) -> VisitOut:
    """Record a take or put-back on the visit's cart."""
    visit = visits.get_visit(session, visit_id, reader=account)
    _require_operator(session, account, visit)
    visits.record_cart_line(
        session, visit, sku=body.sku, qty=body.qty, recorded_by=account, now=now
    )
    return visit_out(session, visit)


@router.post(
    "/{visit_id}/settle",
    status_code=status.HTTP_201_CREATED,
    responses={
        402: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def settle_visit(
    visit_id: VisitId,
    account: CurrentAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> ReceiptOut:
    """Capture the ended visit's total and issue its receipt."""
    visit = visits.get_visit(session, visit_id, reader=account)
    _require_operator(session, account, visit)
    receipt = visits.settle_visit(session, provider, visit, now=now)
    return ReceiptOut.from_row(receipt)
