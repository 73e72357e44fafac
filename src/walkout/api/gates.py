"""Entry and exit gates, operated by staff (or a gate device's staff account)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from walkout.api.deps import (
    ContextDep,
    CurrentAccount,
    NowDep,
    ProviderDep,
    SessionDep,
    SettingsDep,
)
from walkout.api.errors import ErrorBody
from walkout.api.visits import VisitOut, visit_out
from walkout.db.live_models import LiveInput
from walkout.db.models import Account
from walkout.service.context import ServiceContext
from walkout.store import gates, stores
from walkout.store.errors import PermissionDeniedError

router = APIRouter(prefix="/stores/{store_id}/gate", tags=["gates"])

StoreId = Annotated[str, Path(max_length=64)]
TrackId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
]


class EntryIn(BaseModel):
    pass_token: str = Field(min_length=1, max_length=4096)
    track_ids: list[TrackId] = Field(
        min_length=1,
        max_length=50,
        description="one tracker id per person who passed the gate on this pass",
    )
    t: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="seconds on the store's sensor clock (that of the weights); "
        "default: the request's UNIX time",
    )


class ExitIn(BaseModel):
    track_id: TrackId
    t: float | None = Field(
        default=None,
        allow_inf_nan=False,
        description="seconds on the store's sensor clock (that of the weights); "
        "default: the request's UNIX time",
    )


class ExitOut(BaseModel):
    visit_id: str
    track_id: str
    visit_ended: bool


class RecoveredAdmissionOut(BaseModel):
    visit_id: str
    outcome: gates.RecoveryOutcome = Field(
        description="released: hold cancelled, pass used up; declined: no hold, "
        "pass used up; restock: no hold, pass valid again; failed: left for "
        "a later run"
    )
    hold_id: str | None
    error: str | None = Field(
        description="payment error code, or the reason, of a failed run"
    )


def _publish_latest(context: ServiceContext, session: Session, store_id: str) -> None:
    """Wake the store's fusion worker for the gate row just committed."""
    latest = session.scalar(
        select(func.max(LiveInput.id)).where(LiveInput.store_id == store_id)
    )
    if latest is not None:
        context.live.publish_from_thread(store_id, int(latest))


def _require_gate_operator(session: Session, account: Account, store_id: str) -> None:
    store = stores.get_store(session, store_id)
    if not stores.can_operate(session, account, store.id):
        raise PermissionDeniedError(
            "not_store_staff",
            f"only staff of store {store.id!r} and admins operate its gates",
        )


@router.post(
    "/entries",
    status_code=status.HTTP_201_CREATED,
    responses={
        402: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
def enter(
    store_id: StoreId,
    body: EntryIn,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    provider: ProviderDep,
    now: NowDep,
    context: ContextDep,
) -> VisitOut:
    """Check a scanned pass, hold the entry amount and open the gate for its party.

    A 201 response means open the gate for ``party_size`` people; any error
    keeps it shut, and its ``code`` gives the reason.
    """
    _require_gate_operator(session, account, store_id)
    visit = gates.admit(
        session,
        provider,
        store_id=store_id,
        token=body.pass_token,
        track_ids=list(body.track_ids),
        hold_amount=settings.entry_hold_amount,
        secret_key=settings.secret_key.get_secret_value(),
        now=now,
        sensor_t=body.t,
    )
    _publish_latest(context, session, store_id)
    return visit_out(session, visit)


@router.post(
    "/exits",
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def exit_store(
    store_id: StoreId,
    body: ExitIn,
    account: CurrentAccount,
    session: SessionDep,
    now: NowDep,
    context: ContextDep,
) -> ExitOut:
    """End a track's stay; the visit ends when its last track has left."""
    _require_gate_operator(session, account, store_id)
    result = gates.exit_track(
        session, store_id=store_id, track_id=body.track_id, now=now, sensor_t=body.t
    )
    _publish_latest(context, session, store_id)
    return ExitOut(
        visit_id=result.visit.id,
        track_id=result.track_id,
        visit_ended=result.visit_ended,
    )


@router.post(
    "/admissions/recover",
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def recover_admissions(
    store_id: StoreId,
    account: CurrentAccount,
    session: SessionDep,
    settings: SettingsDep,
    provider: ProviderDep,
    now: NowDep,
) -> list[RecoveredAdmissionOut]:
    """Release the holds of entries interrupted before the gate opened.

    Entries older than ``WALKOUT_ADMISSION_TIMEOUT_S`` whose hold result was
    never stored lose their hold and reservation, which frees their places.
    The service also does this at start-up and every
    ``WALKOUT_ADMISSION_RECOVERY_INTERVAL_S``.
    """
    _require_gate_operator(session, account, store_id)
    results = gates.recover_admissions(
        session,
        provider,
        now=now,
        timeout=timedelta(seconds=settings.admission_timeout_s),
        store_id=store_id,
    )
    return [
        RecoveredAdmissionOut(
            visit_id=result.visit_id,
            outcome=result.outcome,
            hold_id=result.hold_id,
            error=result.error,
        )
        for result in results
    ]
