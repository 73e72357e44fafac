"""Entry and exit gates: admit a party on a pass, end tracks as people leave."""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, Update, delete, func, or_, select, update
from sqlalchemy.orm import Session

from walkout.db.live_models import LiveVisit
from walkout.db.models import Account, EntryPass, Store, Visit, VisitTrack
from walkout.live.ingest import add_gate_input
from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentProvider,
    PaymentStatus,
)
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

# The outcome of a pass, and the error code at the gate, of an admission that
# outlived the admission timeout and was cancelled.
ADMISSION_ABANDONED = "admission_abandoned"


def entry_hold_key(pass_id: str) -> str:
    """Return the idempotency key of the entry hold placed on pass ``pass_id``."""
    return f"entry-hold:{pass_id}"


def entry_release_key(pass_id: str) -> str:
    """Return the idempotency key that cancels the entry hold of pass ``pass_id``."""
    return f"entry-hold-release:{pass_id}"


class VisitStatus(enum.StrEnum):
    ADMITTING = "admitting"
    # An admission older than the admission timeout, claimed by
    # ``recover_admissions``, which releases its hold and deletes it.
    RELEASING = "releasing"
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
    # The link lets recover_admissions find the pass, and so the hold's
    # idempotency key, of an admission that never finished.
    entry_pass.visit_id = visit.id
    session.commit()
    if restock:
        return _Reservation(visit, entry_pass, None, None)
    return _Reservation(
        visit=visit,
        entry_pass=entry_pass,
        customer=account.payment_customer,
        method=account.payment_method,
    )


def _rowcount(result: Any) -> int:
    """Return the number of rows that an UPDATE or DELETE statement matched."""
    return cast(CursorResult[Any], result).rowcount


def _delete_reservation(session: Session, visit_id: str, *, status: str) -> bool:
    """Delete a reserved visit, its tracks and its live row if it still has ``status``.

    The pass is unlinked from the visit. The statements run in the caller's
    transaction, which must roll back when this returns False, because
    another process opened, claimed or deleted the visit.
    """
    statements: list[Update | Delete] = [
        update(EntryPass).where(EntryPass.visit_id == visit_id).values(visit_id=None),
        delete(VisitTrack).where(VisitTrack.visit_id == visit_id),
        delete(LiveVisit).where(LiveVisit.visit_id == visit_id),
    ]
    for statement in statements:
        session.execute(statement)
    deleted = session.execute(
        delete(Visit).where(Visit.id == visit_id, Visit.status == status)
    )
    return _rowcount(deleted) == 1


def _cancel_reservation(
    session: Session, reservation: _Reservation, *, outcome: str | None
) -> None:
    """Delete the reserved visit. ``outcome`` None returns the pass for a retry.

    Leaves the visit and its pass alone when ``recover_admissions`` claimed
    the visit first, because the hold's idempotency key may then be bound to
    a released hold.
    """
    entry_pass = reservation.entry_pass
    store_id, visit_id = reservation.visit.store_id, reservation.visit.id
    if not _delete_reservation(session, visit_id, status=VisitStatus.ADMITTING):
        session.rollback()
        logger.warning(
            "entry_reservation_claimed store=%s visit=%s; recovery releases it",
            store_id,
            visit_id,
        )
        return
    if outcome is None:
        entry_pass.used_at = None
    entry_pass.outcome = outcome
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
        return _open_or_reject(
            session, visit, entry_pass, hold=None, t=t, staff=True, now=now
        )
    # A crash before the hold's result is stored leaves the visit in
    # "admitting", counted against the occupancy limit, until
    # recover_admissions releases the hold and deletes the visit. The pass
    # id is the hold's idempotency key, so a rescan of a pass whose earlier
    # attempt failed after the hold places no second hold.
    try:
        hold = provider.hold(
            reservation.customer,
            reservation.method,
            hold_amount,
            visit.currency,
            idempotency_key=entry_hold_key(entry_pass.id),
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

    return _open_or_reject(
        session, visit, entry_pass, hold=hold, t=t, staff=False, now=now
    )


def _open_or_reject(
    session: Session,
    visit: Visit,
    entry_pass: EntryPass,
    *,
    hold: Hold | None,
    t: float,
    staff: bool,
    now: datetime,
) -> Visit:
    """Open the visit, or raise ``ConflictError`` if recovery claimed it first."""
    # A rollback expires the visit, whose row recovery may have deleted.
    store_id, visit_id = visit.store_id, visit.id
    if _open(session, visit, entry_pass, hold=hold, t=t, staff=staff, now=now):
        return visit
    # recover_admissions claimed the visit while the hold call ran, and it
    # releases the hold under the same idempotency keys.
    logger.warning(
        "entry_abandoned store=%s visit=%s hold=%s; the admission timed out",
        store_id,
        visit_id,
        hold.id if hold is not None else None,
    )
    error = ConflictError(
        ADMISSION_ABANDONED,
        f"the admission of visit {visit_id} took longer than the admission "
        "timeout and was cancelled; the shopper needs a new pass",
    )
    raise _reject(session, error, store_id=store_id, now=now)


def _open(
    session: Session,
    visit: Visit,
    entry_pass: EntryPass,
    *,
    hold: Hold | None,
    t: float,
    staff: bool,
    now: datetime,
) -> bool:
    """Mark the visit inside and add its entry to the fusion stream, in one commit.

    Returns False, with the transaction rolled back, when the visit is no
    longer "admitting" because recover_admissions claimed it.
    """
    store_id = visit.store_id
    values: dict[str, object] = {"status": VisitStatus.INSIDE}
    if hold is not None:
        values.update(hold_id=hold.id, hold_amount=hold.amount)
    opened = session.execute(
        update(Visit)
        .where(Visit.id == visit.id, Visit.status == VisitStatus.ADMITTING)
        .values(values)
    )
    if _rowcount(opened) != 1:
        session.rollback()
        return False
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
    return True


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
    if visit.status == VisitStatus.RELEASING:
        raise ConflictError(
            ADMISSION_ABANDONED,
            f"the admission of track {track_id!r} timed out and is being "
            "cancelled; the track was never inside",
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


class RecoveryOutcome(enum.StrEnum):
    """The outcome of ``recover_admissions`` for one unfinished admission."""

    # The hold was cancelled, or found cancelled. The visit is deleted and the
    # pass used up, because its hold key now replays a cancelled hold.
    RELEASED = "released"
    # The card was declined, so no hold exists. The visit is deleted and the
    # pass used up with the decline code.
    DECLINED = "declined"
    # A restock visit, which places no hold. The visit is deleted and the pass
    # is valid again.
    RESTOCK = "restock"
    # A payment call failed, or the pass or the card on file is missing. The
    # visit stays claimed and is retried once the claim is older than the
    # timeout.
    FAILED = "failed"


@dataclass(frozen=True)
class RecoveredAdmission:
    """An admission that ``recover_admissions`` claimed, and its outcome."""

    store_id: str
    visit_id: str
    outcome: RecoveryOutcome
    hold_id: str | None = None
    # The payment error code or reason of a failed recovery.
    error: str | None = None


def _stale_admission(cutoff: datetime) -> Any:
    """Match unfinished admissions, and recovery claims, older than ``cutoff``.

    A claim stores its time in ``ended_at``, so a claim that a crashed
    recovery left behind is taken again once it is older than ``cutoff``.
    """
    return or_(
        (Visit.status == VisitStatus.ADMITTING) & (Visit.entered_at < cutoff),
        (Visit.status == VisitStatus.RELEASING) & (Visit.ended_at < cutoff),
    )


def recover_admissions(
    session: Session,
    provider: PaymentProvider,
    *,
    now: datetime,
    timeout: timedelta,
    store_id: str | None = None,
) -> list[RecoveredAdmission]:
    """Release the holds of admissions older than ``timeout`` and delete them.

    Such an admission is one whose process died between the reservation and
    the hold's result, or whose hold call outlived ``timeout``. Each one is
    first claimed with a conditional update, so only one of several
    processes handles it, and ``admit`` can no longer open it. Returns one
    entry per claimed admission. Failed ones stay claimed for a later run.
    ``store_id`` limits the run to one store.
    """
    cutoff = now - timeout
    query = select(Visit.id).where(_stale_admission(cutoff)).order_by(Visit.entered_at)
    if store_id is not None:
        query = query.where(Visit.store_id == store_id)
    visit_ids = list(session.scalars(query))
    session.commit()

    results: list[RecoveredAdmission] = []
    for visit_id in visit_ids:
        claimed = session.execute(
            update(Visit)
            .where(Visit.id == visit_id, _stale_admission(cutoff))
            .values(status=VisitStatus.RELEASING, ended_at=now)
        )
        session.commit()
        if _rowcount(claimed) != 1:
            # Another process claimed, opened or deleted it first.
            continue
        result = _release_admission(session, provider, visit_id)
        if result is not None:
            results.append(result)
    return results


def _find_entry_pass(session: Session, visit: Visit) -> EntryPass | None:
    """Return the pass that reserved ``visit``, or None unless exactly one matches."""
    linked = session.scalars(
        select(EntryPass).where(EntryPass.visit_id == visit.id)
    ).first()
    if linked is not None:
        return linked
    # Reservations made before passes were linked at reservation time are
    # matched by time, because the pass claim and the visit share one.
    matches = session.scalars(
        select(EntryPass).where(
            EntryPass.account_id == visit.account_id,
            EntryPass.store_id == visit.store_id,
            EntryPass.used_at == visit.entered_at,
            EntryPass.visit_id.is_(None),
            EntryPass.outcome.is_(None),
        )
    ).all()
    return matches[0] if len(matches) == 1 else None


def _release_admission(
    session: Session, provider: PaymentProvider, visit_id: str
) -> RecoveredAdmission | None:
    """Release the hold of a claimed admission, then delete its reservation."""
    visit = session.get(Visit, visit_id)
    if visit is None:
        session.commit()
        return None
    store_id, amount, currency = visit.store_id, visit.hold_amount, visit.currency
    live = session.get(LiveVisit, visit_id)
    entry_pass = _find_entry_pass(session, visit)
    pass_id = entry_pass.id if entry_pass is not None else None
    if live is not None and live.restock:
        return _delete_claimed(
            session,
            store_id,
            visit_id,
            pass_id,
            outcome=RecoveryOutcome.RESTOCK,
            pass_outcome=None,
        )

    account = session.get(Account, visit.account_id)
    customer = account.payment_customer if account is not None else None
    method = account.payment_method if account is not None else None
    # The provider may write to this database (the ledger does), and SQLite
    # admits one writer at a time, so no transaction stays open across calls.
    session.commit()
    if pass_id is None or customer is None or not method:
        reason = "entry_pass_not_found" if pass_id is None else "payment_method_missing"
        return _recovery_failed(store_id, visit_id, reason)

    try:
        # The same request under the same key returns the hold that the
        # interrupted admission placed, or places one that is released below.
        # NOTE: Stripe may remove a key once it is 24 hours old. The probe
        # then places a new hold, and the first one stays until it expires.
        hold = provider.hold(
            customer,
            method,
            amount,
            currency,
            idempotency_key=entry_hold_key(pass_id),
        )
    except CardDeclinedError as error:
        return _delete_claimed(
            session,
            store_id,
            visit_id,
            pass_id,
            outcome=RecoveryOutcome.DECLINED,
            pass_outcome=error.code,
        )
    except PaymentError as error:
        return _recovery_failed(store_id, visit_id, error.code)

    try:
        _cancel_entry_hold(provider, hold, pass_id)
    except PaymentError as error:
        return _recovery_failed(store_id, visit_id, error.code, hold_id=hold.id)
    return _delete_claimed(
        session,
        store_id,
        visit_id,
        pass_id,
        outcome=RecoveryOutcome.RELEASED,
        pass_outcome=ADMISSION_ABANDONED,
        hold_id=hold.id,
    )


def _cancel_entry_hold(provider: PaymentProvider, hold: Hold, pass_id: str) -> None:
    """Cancel ``hold``. A hold that is already cancelled counts as released."""
    if hold.status == PaymentStatus.CANCELLED:
        return
    try:
        provider.cancel(hold.id, idempotency_key=entry_release_key(pass_id))
    except PaymentError as error:
        # Stripe returns payment_intent_unexpected_state for a cancel of a
        # cancelled PaymentIntent under a new key. StripeProvider raises it,
        # as the ledger does, with the code "hold_cancelled".
        if error.code != "hold_cancelled":
            raise


def _delete_claimed(
    session: Session,
    store_id: str,
    visit_id: str,
    pass_id: str | None,
    *,
    outcome: RecoveryOutcome,
    pass_outcome: str | None,
    hold_id: str | None = None,
) -> RecoveredAdmission | None:
    """Delete a claimed reservation and settle its pass, in one transaction.

    ``pass_outcome`` None makes the pass valid again. Returns None when
    another recovery deleted the visit first.
    """
    if not _delete_reservation(session, visit_id, status=VisitStatus.RELEASING):
        session.rollback()
        return None
    if pass_id is not None:
        values: dict[str, object] = {"outcome": pass_outcome}
        if pass_outcome is None:
            values["used_at"] = None
        session.execute(update(EntryPass).where(EntryPass.id == pass_id).values(values))
    session.commit()
    logger.info(
        "admission_recovered store=%s visit=%s outcome=%s hold=%s",
        store_id,
        visit_id,
        outcome,
        hold_id,
    )
    return RecoveredAdmission(
        store_id=store_id, visit_id=visit_id, outcome=outcome, hold_id=hold_id
    )


def _recovery_failed(
    store_id: str, visit_id: str, reason: str, *, hold_id: str | None = None
) -> RecoveredAdmission:
    logger.error(
        "admission_recovery_failed store=%s visit=%s hold=%s error=%s; "
        "retried once the claim is older than the admission timeout",
        store_id,
        visit_id,
        hold_id,
        reason,
    )
    return RecoveredAdmission(
        store_id=store_id,
        visit_id=visit_id,
        outcome=RecoveryOutcome.FAILED,
        hold_id=hold_id,
        error=reason,
    )
