"""Entry and exit gates: admit a party on a pass, end tracks as people leave."""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from walkout.db.live_models import LiveVisit
from walkout.db.models import Account, EntryPass, Store, Visit, VisitTrack
from walkout.live.ingest import add_gate_input
from walkout.payments.base import CardDeclinedError, PaymentError, PaymentProvider
from walkout.store.accounts import Role
from walkout.store.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PaymentFailedError,
    StoreError,
)
from walkout.store.events import EventName, record_event
from walkout.store.passes import claim_pass, verify_pass

logger = logging.getLogger(__name__)


class VisitStatus(enum.StrEnum):
    ADMITTING = "admitting"
    INSIDE = "inside"
    ENDED = "ended"
    # Ended with doubtful lines; a reviewer decides them before it settles.
    IN_REVIEW = "in_review"
    SETTLED = "settled"


@dataclass(frozen=True)
class ExitResult:
    visit: Visit
    track_id: str
    visit_ended: bool


def people_inside(session: Session, store_id: str) -> int:
    statement = select(func.count(VisitTrack.id)).where(
        VisitTrack.store_id == store_id, VisitTrack.exited_at.is_(None)
    )
    return int(session.scalar(statement) or 0)


def _open_track(session: Session, store_id: str, track_id: str) -> VisitTrack | None:
    statement = select(VisitTrack).where(
        VisitTrack.store_id == store_id,
        VisitTrack.track_id == track_id,
        VisitTrack.exited_at.is_(None),
    )
    return session.scalars(statement).first()


def _check_tracks(session: Session, store_id: str, track_ids: list[str]) -> None:
    if len(set(track_ids)) != len(track_ids):
        raise InvalidRequestError(
            "duplicate_track", f"track ids {track_ids} contain a duplicate"
        )
    for track_id in track_ids:
        if _open_track(session, store_id, track_id) is not None:
            raise ConflictError(
                "track_already_inside",
                f"track {track_id!r} is already inside store {store_id!r}",
            )


def _reject(
    session: Session, error: StoreError, *, store_id: str, now: datetime
) -> StoreError:
    record_event(
        session, EventName.ENTRY_REJECTED, store_id=store_id, now=now, code=error.code
    )
    session.commit()
    return error


@dataclass(frozen=True)
class _Reservation:
    visit: Visit
    entry_pass: EntryPass
    # None for a restock visit, which places no hold.
    customer: str | None
    method: str | None


def is_restock_account(account: Account) -> bool:
    """Return whether ``account``'s visits are stock work (staff and admins)."""
    return account.role in (Role.STAFF, Role.ADMIN)


def _reserve(
    session: Session,
    *,
    store_id: str,
    token: str,
    track_ids: list[str],
    hold_amount: Decimal,
    secret_key: str,
    now: datetime,
) -> _Reservation:
    """Claim the pass and count the party as inside, in one committed transaction.

    The reservation is committed before the payment call, because the ledger
    provider writes to the same database and SQLite admits one writer at a time.
    """
    # Lock the store row so that concurrent gates count occupancy one at a
    # time. SQLite ignores FOR UPDATE, but it serialises writers anyway.
    store = session.scalars(
        select(Store).where(Store.id == store_id).with_for_update()
    ).one_or_none()
    if store is None:
        raise NotFoundError("store_not_found", f"store {store_id!r} not found")

    entry_pass = verify_pass(
        session, token, store_id=store_id, secret_key=secret_key, now=now
    )
    if len(track_ids) != entry_pass.party_size:
        raise InvalidRequestError(
            "party_size_mismatch",
            f"the pass admits {entry_pass.party_size} people, "
            f"but {len(track_ids)} track ids arrived",
        )
    _check_tracks(session, store_id, track_ids)
    inside = people_inside(session, store_id)
    limit = store.occupancy_limit
    if limit is not None and inside + entry_pass.party_size > limit:
        raise ConflictError(
            "store_full",
            f"store {store_id!r} has {inside} of {limit} people inside; "
            f"a party of {entry_pass.party_size} must wait",
        )
    account = session.get(Account, entry_pass.account_id)
    if account is None:
        raise NotFoundError(
            "account_not_found", "the account of this pass no longer exists"
        )
    restock = is_restock_account(account)
    if not restock and (account.payment_customer is None or not account.payment_method):
        raise PaymentFailedError(
            "payment_method_missing",
            "the account has no card on file; add one in the app",
        )
    claim_pass(session, entry_pass, now=now)

    visit = Visit(
        id=str(uuid.uuid4()),
        store_id=store_id,
        account_id=account.id,
        party_size=entry_pass.party_size,
        status=VisitStatus.ADMITTING,
        entered_at=now,
        currency=store.currency,
        hold_amount=Decimal("0.00") if restock else hold_amount,
    )
    session.add(visit)
    for track_id in track_ids:
        visit.tracks.append(
            VisitTrack(store_id=store_id, track_id=track_id, entered_at=now)
        )
    # LiveVisit has no relationship to Visit, so the visit row goes first.
    session.flush()
    session.add(LiveVisit(visit_id=visit.id, store_id=store_id, restock=restock))
    session.commit()
    if restock:
        return _Reservation(visit, entry_pass, None, None)
    return _Reservation(
        visit=visit,
        entry_pass=entry_pass,
        customer=account.payment_customer,
        method=account.payment_method,
    )


def _cancel_reservation(
    session: Session, reservation: _Reservation, *, outcome: str | None
) -> None:
    """Remove the reserved visit; ``outcome`` None returns the pass for a retry."""
    entry_pass = reservation.entry_pass
    if outcome is None:
        entry_pass.used_at = None
    entry_pass.outcome = outcome
    for track in reservation.visit.tracks:
        session.delete(track)
    live = session.get(LiveVisit, reservation.visit.id)
    if live is not None:
        session.delete(live)
    session.flush()
    session.delete(reservation.visit)
    session.flush()


def admit(
    session: Session,
    provider: PaymentProvider,
    *,
    store_id: str,
    token: str,
    track_ids: list[str],
    hold_amount: Decimal,
    secret_key: str,
    now: datetime,
    sensor_t: float | None = None,
) -> Visit:
    """Check a scanned pass, place the entry hold and open a visit for its party.

    The gate stays shut (an error is raised) when the pass is invalid, the
    party does not match the pass, the store would exceed its occupancy
    limit or the card is declined. A declined card uses up the pass; any
    other payment failure leaves the pass valid for another scan. A staff
    or admin account's pass opens a restock visit, which places no hold.

    The entry is added to the store's fusion input stream at ``sensor_t``
    (seconds on the sensor clock; default: ``now`` as UNIX time), binding
    the tracks to the visit id.
    """
    try:
        reservation = _reserve(
            session,
            store_id=store_id,
            token=token,
            track_ids=track_ids,
            hold_amount=hold_amount,
            secret_key=secret_key,
            now=now,
        )
    except StoreError as error:
        session.rollback()
        raise _reject(session, error, store_id=store_id, now=now) from None

    visit, entry_pass = reservation.visit, reservation.entry_pass
    t = now.timestamp() if sensor_t is None else sensor_t
    if reservation.customer is None or reservation.method is None:
        return _open(session, visit, entry_pass, t=t, staff=True, now=now)
    # NOTE: a crash before the hold's result is stored leaves the visit in
    # "admitting", counted against the occupancy limit until staff remove it.
    # The pass id is the hold's idempotency key, so a rescan of a pass whose
    # earlier attempt failed after the hold places no second hold.
    try:
        hold = provider.hold(
            reservation.customer,
            reservation.method,
            hold_amount,
            visit.currency,
            idempotency_key=f"entry-hold:{entry_pass.id}",
        )
    except CardDeclinedError as error:
        logger.warning(
            "entry_declined store=%s visit=%s account=%s code=%s",
            store_id,
            visit.id,
            visit.account_id,
            error.code,
        )
        _cancel_reservation(session, reservation, outcome=error.code)
        declined = PaymentFailedError(
            error.code, f"the card was declined ({error}); use another card"
        )
        raise _reject(session, declined, store_id=store_id, now=now) from error
    except PaymentError as error:
        logger.error(
            "entry_hold_failed store=%s visit=%s account=%s code=%s",
            store_id,
            visit.id,
            visit.account_id,
            error.code,
        )
        _cancel_reservation(session, reservation, outcome=None)
        failed = PaymentFailedError(error.code, str(error))
        raise _reject(session, failed, store_id=store_id, now=now) from error

    visit.hold_id = hold.id
    visit.hold_amount = hold.amount
    return _open(session, visit, entry_pass, t=t, staff=False, now=now)


def _open(
    session: Session,
    visit: Visit,
    entry_pass: EntryPass,
    *,
    t: float,
    staff: bool,
    now: datetime,
) -> Visit:
    """Mark the visit inside and add its entry to the fusion stream, in one commit."""
    store_id = visit.store_id
    visit.status = VisitStatus.INSIDE
    entry_pass.outcome = "admitted"
    entry_pass.visit_id = visit.id
    live = session.get(LiveVisit, visit.id)
    if live is not None:
        live.entry_t = t
    add_gate_input(
        session,
        store_id=store_id,
        visit_id=visit.id,
        action="enter",
        tracks=[track.track_id for track in visit.tracks],
        t=t,
        staff=staff,
        now=now,
    )
    for track in visit.tracks:
        record_event(
            session,
            EventName.SHOPPER_ENTERED,
            store_id=store_id,
            visit_id=visit.id,
            now=now,
            track=track.track_id,
            account=visit.account_id,
        )
    session.commit()
    return visit


def exit_track(
    session: Session,
    *,
    store_id: str,
    track_id: str,
    now: datetime,
    sensor_t: float | None = None,
) -> ExitResult:
    """End ``track_id``'s stay; the visit ends when its last track has left.

    The exit is added to the store's fusion input stream at ``sensor_t``
    (seconds on the sensor clock; default: ``now`` as UNIX time).
    """
    track = _open_track(session, store_id, track_id)
    if track is None:
        raise NotFoundError(
            "track_not_inside",
            f"track {track_id!r} is not inside store {store_id!r}",
        )
    visit = track.visit
    if visit.status == VisitStatus.ADMITTING:
        raise ConflictError(
            "entry_pending",
            f"track {track_id!r} is still being admitted; retry after the gate opens",
        )
    t = now.timestamp() if sensor_t is None else sensor_t
    live = session.get(LiveVisit, visit.id)
    if live is not None and live.entry_t is not None and t < live.entry_t:
        raise InvalidRequestError(
            "exit_before_entry",
            f"exit time t={t!r} of track {track_id!r} is before its entry at "
            f"t={live.entry_t!r}; send gate times on the sensor clock",
        )
    track.exited_at = now
    add_gate_input(
        session,
        store_id=store_id,
        visit_id=visit.id,
        action="exit",
        tracks=[track_id],
        t=t,
        staff=False,
        now=now,
    )
    record_event(
        session,
        EventName.SHOPPER_EXITED,
        store_id=store_id,
        visit_id=visit.id,
        now=now,
        track=track_id,
    )
    session.flush()

    remaining = [other for other in visit.tracks if other.exited_at is None]
    ended = not remaining
    if ended:
        visit.status = VisitStatus.ENDED
        visit.ended_at = now
        if live is not None:
            live.exit_t = t
        record_event(
            session,
            EventName.VISIT_ENDED,
            store_id=store_id,
            visit_id=visit.id,
            now=now,
            account=visit.account_id,
        )
    session.commit()
    return ExitResult(visit=visit, track_id=track_id, visit_ended=ended)
