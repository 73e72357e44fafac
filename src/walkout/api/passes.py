"""Entry passes for the app: a signed token plus the QR code the gate scans."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from walkout.api.deps import CurrentAccount, NowDep, SessionDep, SettingsDep
from walkout.api.errors import ErrorBody
from walkout.store import passes, stores

router = APIRouter(tags=["passes"])


class PassIn(BaseModel):
    party_size: int = Field(default=1, ge=1, le=50, description="people entering")


class PassOut(BaseModel):
    id: str
    store_id: str
    party_size: int
    expires_at: datetime
    token: str = Field(description="the signed pass; the QR code encodes it")
    qr_png_base64: str = Field(description="a PNG image of the QR code, base64")


@router.post(
    "/stores/{store_id}/passes",
    status_code=status.HTTP_201_CREATED,
    responses={
        402: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
def issue_pass(
    store_id: Annotated[str, Path(max_length=64)],
    body: PassIn,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> PassOut:
    """Issue a single-use entry pass for the caller's party, valid for seconds."""
    store = stores.get_store(session, store_id)
    issued = passes.issue_pass(
        session,
        account=account,
        store=store,
        party_size=body.party_size,
        max_party_size=settings.max_party_size,
        lifetime=timedelta(seconds=settings.entry_pass_seconds),
        secret_key=settings.secret_key.get_secret_value(),
        now=now,
    )
    png = passes.pass_qr_png(issued.token)
    return PassOut(
        id=issued.entry_pass.id,
        store_id=store.id,
        party_size=issued.entry_pass.party_size,
        expires_at=issued.entry_pass.expires_at,
        token=issued.token,
        qr_png_base64=base64.b64encode(png).decode("ascii"),
    )
