"""The caller's own account, the card on file, and role changes by admins."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from walkout.api.deps import AdminAccount, CurrentAccount, ProviderDep, SessionDep
from walkout.api.errors import ErrorBody
from walkout.db.models import Account
from walkout.store import accounts
from walkout.store.accounts import Role

router = APIRouter(prefix="/accounts", tags=["accounts"])


class CardOut(BaseModel):
    brand: str
    last4: str


class AccountOut(BaseModel):
    id: str
    email: str
    role: Role
    created_at: datetime
    card: CardOut | None

    @classmethod
    def from_row(cls, account: Account) -> AccountOut:
        card = None
        if account.card_brand is not None and account.card_last4 is not None:
            card = CardOut(brand=account.card_brand, last4=account.card_last4)
        return cls(
            id=account.id,
            email=account.email,
            role=Role(account.role),
            created_at=account.created_at,
            card=card,
        )


class CardIn(BaseModel):
    token: str = Field(
        min_length=1,
        max_length=255,
        description="a card token from the payment provider's client SDK",
    )


class RoleIn(BaseModel):
    role: Role


@router.get("/me")
def read_me(account: CurrentAccount) -> AccountOut:
    return AccountOut.from_row(account)


@router.put("/me/card", responses={402: {"model": ErrorBody}})
def put_card(
    body: CardIn, account: CurrentAccount, session: SessionDep, provider: ProviderDep
) -> AccountOut:
    """Make the card behind ``token`` the card on file."""
    accounts.attach_card(session, provider, account, token=body.token)
    return AccountOut.from_row(account)


@router.get("")
def list_accounts(
    _: AdminAccount,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[AccountOut]:
    statement = select(Account).order_by(Account.email).limit(limit).offset(offset)
    return [AccountOut.from_row(row) for row in session.scalars(statement)]


@router.patch("/{account_id}", responses={404: {"model": ErrorBody}})
def change_role(
    account_id: str, body: RoleIn, _: AdminAccount, session: SessionDep
) -> AccountOut:
    account = accounts.get_account(session, account_id)
    accounts.set_role(session, account, body.role)
    return AccountOut.from_row(account)
