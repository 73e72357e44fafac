"""The review queue: doubtful visit lines with their evidence, decided by reviewers.

Fusion opens a case with ``open_visit_review`` when a visit ends with lines
it cannot decide. A reviewer decides each line (charge it, charge a
corrected sku or qty, or drop it). The decision of the last line applies
the decisions to the visit's cart and settles the visit. Disputes above the
auto-refund limit open cases of kind ``dispute`` (see
``walkout.store.disputes``), which a reviewer approves or rejects.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from walkout.db import live_models
from walkout.db.models import Account, CartLine, Product, Visit
from walkout.db.review_models import ReviewCase, ReviewLine
from walkout.payments.base import PaymentProvider
from walkout.store.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    StoreError,
)
from walkout.store.events import EventName, record_event
from walkout.store.gates import VisitStatus
from walkout.store.visits import settle_visit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineEvidence:
    sku: str
    qty: int
    unit_price: Decimal
    review_reason: str  # e.g. ambiguous_shopper, ambiguous_product, sensor_fault
    plate: str
    t_start: float
    t_end: float
    delta_g: float
    product_candidates: list[tuple[str, float]]  # sku, probability
    shopper_candidates: list[tuple[str, float]]  # visit id, probability
    trace: list[tuple[str, list[float], list[float]]]  # plate, times (s), grams
    positions: list[dict[str, object]]  # keys track, visit, t, joint, x, y, z


class CaseKind(enum.StrEnum):
    VISIT = "visit"
    DISPUTE = "dispute"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    # Every decision is in; settling the visit or refunding the dispute is
    # still to run, or failed and can be retried.
    DECIDED = "decided"
    CLOSED = "closed"


class LineDecision(enum.StrEnum):
    CHARGE = "charge"
    CORRECT = "correct"
    DROP = "drop"


# The column length of a review line's sku, plate and review reason.
MAX_ID_LENGTH = 64

# Visit statuses from which a review can open. The visit must have ended,
# because settling needs every track to have left.
_REVIEWABLE = (VisitStatus.ENDED, VisitStatus.IN_REVIEW)


def _finite(value: float, name: str) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise InvalidRequestError(
            "invalid_evidence", f"evidence field {name} is {value!r}; it must be finite"
        )
    return number


def _json_value(value: object) -> object:
    """Convert one position value to something JSON stores unchanged."""
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return str(value)


def _review_line(evidence: LineEvidence) -> ReviewLine:
    if evidence.qty == 0:
        raise InvalidRequestError(
            "qty_zero", f"the review line of sku {evidence.sku!r} has qty 0"
        )
    for name, text in (
        ("sku", evidence.sku),
        ("plate", evidence.plate),
        ("review_reason", evidence.review_reason),
    ):
        if len(text) > MAX_ID_LENGTH:
            raise InvalidRequestError(
                "invalid_evidence",
                f"evidence field {name} has {len(text)} characters; "
                f"at most {MAX_ID_LENGTH} fit",
            )
    return ReviewLine(
        sku=evidence.sku,
        qty=evidence.qty,
        unit_price=evidence.unit_price,
        review_reason=evidence.review_reason,
        plate=evidence.plate,
        t_start=_finite(evidence.t_start, "t_start"),
        t_end=_finite(evidence.t_end, "t_end"),
        delta_g=_finite(evidence.delta_g, "delta_g"),
        product_candidates=[
            [sku, _finite(p, "product_candidates")]
            for sku, p in evidence.product_candidates
        ],
        shopper_candidates=[
            [visit_id, _finite(p, "shopper_candidates")]
            for visit_id, p in evidence.shopper_candidates
        ],
        trace=[
            [plate, [float(t) for t in times], [float(g) for g in grams]]
            for plate, times, grams in evidence.trace
        ],
        positions=[
            {key: _json_value(value) for key, value in sample.items()}
            for sample in evidence.positions
        ],
        in_cart_qty=0,
    )


def _doubtful_in_cart(session: Session, visit_id: str) -> dict[str, int]:
    """Return the qty per sku of the doubtful lines that the visit's cart counts.

    Fusion writes all of a visit's lines, doubtful ones included (those with
    a ``review_reason``), to ``fusion_cart_lines``, and the cart counts them.
    """
    # NOTE: looked up by name so that this module imports without the live
    # store's tables; without them no doubtful line is in the cart.
    model = getattr(live_models, "FusionCartLine", None)
    if model is None:
        return {}
    rows = session.scalars(
        select(model).where(
            model.visit_id == visit_id, model.review_reason.is_not(None)
        )
    )
    counted: dict[str, int] = {}
    for row in rows:
        counted[row.sku] = counted.get(row.sku, 0) + int(row.qty)
    return counted


def _case_of_visit(session: Session, visit_id: str) -> ReviewCase | None:
    statement = select(ReviewCase).where(ReviewCase.visit_id == visit_id)
    return session.scalars(statement).one_or_none()


def open_visit_review(
    session: Session, visit: Visit, lines: list[LineEvidence], *, now: datetime
) -> ReviewCase:
    """Store a review case of the visit's doubtful lines and their evidence.

    Sets the visit to ``in_review``, records ``review_opened`` and commits.
    A second call for the same visit returns the stored case unchanged, so
    the caller may retry after a crash. Raises ``ConflictError`` when the
    visit has not ended or is settled, ``InvalidRequestError`` for no lines,
    a zero qty or non-finite evidence.
    """
    existing = _case_of_visit(session, visit.id)
    if existing is not None:
        return existing
    if visit.status not in _REVIEWABLE:
        raise ConflictError(
            "visit_not_reviewable",
            f"visit {visit.id} has status {visit.status!r}; "
            "a review opens only on an ended visit",
        )
    if not lines:
        raise InvalidRequestError(
            "review_lines_missing", f"a review of visit {visit.id} needs lines"
        )

    counted = _doubtful_in_cart(session, visit.id)
    review_lines = []
    for evidence in lines:
        row = _review_line(evidence)
        if evidence.qty > 0:
            row.in_cart_qty = min(evidence.qty, counted.get(evidence.sku, 0))
            counted[evidence.sku] = counted.get(evidence.sku, 0) - row.in_cart_qty
        review_lines.append(row)
    case = ReviewCase(
        id=str(uuid.uuid4()),
        kind=CaseKind.VISIT,
        status=CaseStatus.OPEN,
        store_id=visit.store_id,
        visit_id=visit.id,
        opened_at=now,
        lines=review_lines,
    )
    session.add(case)
    visit.status = VisitStatus.IN_REVIEW
    record_event(
        session,
        EventName.REVIEW_OPENED,
        store_id=visit.store_id,
        visit_id=visit.id,
        now=now,
        case=case.id,
        lines=len(lines),
        plates=",".join(sorted({line.plate for line in lines})),
    )
    try:
        session.commit()
    except IntegrityError:
        # Another process opened the case for this visit first.
        session.rollback()
        concurrent = _case_of_visit(session, visit.id)
        if concurrent is None:
            raise
        return concurrent
    return case


def get_case(session: Session, case_id: str) -> ReviewCase:
    case = session.get(ReviewCase, case_id)
    if case is None:
        raise NotFoundError("review_not_found", f"review case {case_id} not found")
    return case


def get_line(case: ReviewCase, line_id: int) -> ReviewLine:
    for line in case.lines:
        if line.id == line_id:
            return line
    raise NotFoundError(
        "review_line_not_found", f"review case {case.id} has no line {line_id}"
    )


def list_cases(
    session: Session,
    *,
    status: CaseStatus | None = CaseStatus.OPEN,
    store_id: str | None = None,
    kind: CaseKind | None = None,
    limit: int = 100,
) -> list[ReviewCase]:
    """Return review cases, oldest first, filtered by status, store and kind."""
    statement = select(ReviewCase)
    if status is not None:
        statement = statement.where(ReviewCase.status == status)
    if store_id is not None:
        statement = statement.where(ReviewCase.store_id == store_id)
    if kind is not None:
        statement = statement.where(ReviewCase.kind == kind)
    statement = statement.order_by(ReviewCase.opened_at, ReviewCase.id).limit(limit)
    return list(session.scalars(statement))


def _require_open_visit_case(case: ReviewCase) -> None:
    if case.kind != CaseKind.VISIT:
        raise ConflictError(
            "review_kind_mismatch",
            f"review case {case.id} is a {case.kind} case; its lines have no decisions",
        )
    if case.status != CaseStatus.OPEN:
        raise ConflictError(
            "review_decided",
            f"review case {case.id} is {case.status}; its lines can no longer change",
        )


def _corrected(
    session: Session,
    case: ReviewCase,
    line: ReviewLine,
    *,
    sku: str | None,
    qty: int | None,
) -> tuple[str, int, Decimal]:
    if sku is None and qty is None:
        raise InvalidRequestError(
            "correction_missing", "a correction needs a sku, a qty or both"
        )
    new_sku = line.sku if sku is None else sku
    new_qty = line.qty if qty is None else qty
    if new_qty == 0:
        raise InvalidRequestError(
            "qty_zero", "a corrected qty must be non-zero; drop the line instead"
        )
    if new_sku == line.sku:
        return new_sku, new_qty, line.unit_price
    product = session.get(Product, (case.store_id, new_sku))
    if product is None:
        raise NotFoundError(
            "product_not_found",
            f"sku {new_sku!r} is not in the catalogue of store {case.store_id!r}",
        )
    return new_sku, new_qty, product.price


def decide_line(
    session: Session,
    provider: PaymentProvider,
    case: ReviewCase,
    line_id: int,
    *,
    decision: LineDecision,
    reviewer: Account,
    now: datetime,
    sku: str | None = None,
    qty: int | None = None,
    note: str | None = None,
) -> ReviewCase:
    """Store a reviewer's decision on one line; the last one settles the visit.

    A line may be decided again while the case is open. When every line is
    decided, the decisions are applied to the visit's cart and it settles.
    A failed settlement leaves the case ``decided`` with ``error_code`` set;
    ``complete_case`` retries it.
    """
    _require_open_visit_case(case)
    line = get_line(case, line_id)
    visit = session.get(Visit, case.visit_id)
    if visit is not None and visit.status == VisitStatus.SETTLED:
        # NOTE: the case stays open in the queue; the receipt can only be
        # changed by a dispute now.
        raise ConflictError(
            "visit_settled",
            f"visit {visit.id} was settled before its review finished; "
            "its receipt can only change through a dispute",
        )
    if decision == LineDecision.CHARGE:
        charged = (line.sku, line.qty, line.unit_price)
    elif decision == LineDecision.CORRECT:
        charged = _corrected(session, case, line, sku=sku, qty=qty)
    else:
        charged = (line.sku, 0, line.unit_price)
    line.decision = decision
    line.decided_sku, line.decided_qty, line.decided_unit_price = charged
    line.note = note
    line.decided_by = reviewer.id
    line.decided_at = now
    record_event(
        session,
        EventName.REVIEW_LINE_DECIDED,
        store_id=case.store_id,
        visit_id=case.visit_id,
        now=now,
        case=case.id,
        line=line.id,
        plate=line.plate,
        decision=decision.value,
        sku=charged[0],
        qty=charged[1],
        reviewer=reviewer.id,
    )
    session.commit()

    all_decided = all(other.decision is not None for other in case.lines)
    if all_decided and _close_decisions(session, case, reviewer=reviewer, now=now):
        # complete_case stores a failure on the case; the decisions stand and
        # the settlement can be retried.
        with contextlib.suppress(StoreError):
            complete_case(session, provider, case, now=now)
    return case


def _close_decisions(
    session: Session, case: ReviewCase, *, reviewer: Account, now: datetime
) -> bool:
    """Move the case from open to decided and apply its decisions to the cart.

    Returns False when another request closed the decisions first. The
    conditional update makes only one request add the cart lines.
    """
    result = session.execute(
        update(ReviewCase)
        .where(ReviewCase.id == case.id, ReviewCase.status == CaseStatus.OPEN)
        .values(status=CaseStatus.DECIDED, decided_at=now, decided_by=reviewer.id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        session.rollback()
        session.refresh(case)
        return False

    visit = session.get(Visit, case.visit_id)
    if visit is None:
        raise NotFoundError("visit_not_found", f"visit {case.visit_id} not found")
    charged_lines = sum(1 for line in case.lines if line.decided_qty)
    for line in case.lines:
        for sku, qty, unit_price in _cart_adjustments(line):
            visit.cart_lines.append(
                CartLine(
                    visit_id=visit.id,
                    sku=sku,
                    qty=qty,
                    unit_price=unit_price,
                    recorded_at=now,
                    recorded_by=reviewer.id,
                )
            )
            name = EventName.ITEM_TAKEN if qty > 0 else EventName.ITEM_RETURNED
            record_event(
                session,
                name,
                store_id=visit.store_id,
                visit_id=visit.id,
                now=now,
                sku=sku,
                qty=abs(qty),
                plate=line.plate,
                review=case.id,
            )
    record_event(
        session,
        EventName.REVIEW_DECIDED,
        store_id=case.store_id,
        visit_id=visit.id,
        now=now,
        case=case.id,
        charged=charged_lines,
        dropped=len(case.lines) - charged_lines,
        reviewer=reviewer.id,
    )
    session.commit()
    session.refresh(case)
    return True


def _cart_adjustments(line: ReviewLine) -> list[tuple[str, int, Decimal]]:
    """Return the cart lines (sku, qty, unit price) that apply the line's decision.

    The ``in_cart_qty`` units of the proposal that the cart already counts
    are taken back when the decision differs from them.
    """
    decided_sku = line.decided_sku or line.sku
    decided_qty = line.decided_qty or 0
    unit_price = line.decided_unit_price or line.unit_price
    if decided_sku == line.sku:
        delta = decided_qty - line.in_cart_qty
        return [(line.sku, delta, unit_price)] if delta else []
    adjustments = []
    if line.in_cart_qty:
        adjustments.append((line.sku, -line.in_cart_qty, line.unit_price))
    if decided_qty:
        adjustments.append((decided_sku, decided_qty, unit_price))
    return adjustments


def complete_case(
    session: Session, provider: PaymentProvider, case: ReviewCase, *, now: datetime
) -> ReviewCase:
    """Run what a case's decisions started: settle the visit or refund the dispute.

    Safe to repeat: settling and refunding use idempotency keys derived from
    the visit and the dispute. Raises ``ConflictError`` for an open case and
    the settlement's or refund's error after storing it on the case.
    """
    if case.status == CaseStatus.CLOSED:
        return case
    if case.status == CaseStatus.OPEN:
        raise ConflictError(
            "review_open",
            f"review case {case.id} still has undecided lines or no decision",
        )
    if case.kind == CaseKind.DISPUTE:
        # Imported here because the disputes module imports this one.
        from walkout.store.disputes import complete_dispute_case

        return complete_dispute_case(session, provider, case, now=now)

    visit = session.get(Visit, case.visit_id)
    if visit is None:
        raise NotFoundError("visit_not_found", f"visit {case.visit_id} not found")
    if visit.status != VisitStatus.SETTLED:
        try:
            settle_visit(session, provider, visit, now=now)
        except StoreError as error:
            session.rollback()
            record_case_error(session, case, error, now=now)
            raise
    case.status = CaseStatus.CLOSED
    case.closed_at = now
    case.error_code = None
    case.error_message = None
    session.commit()
    logger.info(
        "review_closed store=%s visit=%s case=%s", case.store_id, visit.id, case.id
    )
    return case


def record_case_error(
    session: Session, case: ReviewCase, error: StoreError, *, now: datetime
) -> None:
    """Store the failure of settling or refunding on the case and commit it."""
    case.error_code = error.code
    case.error_message = error.message[:500]
    record_event(
        session,
        EventName.REVIEW_SETTLE_FAILED,
        store_id=case.store_id,
        visit_id=case.visit_id,
        now=now,
        case=case.id,
        code=error.code,
    )
    session.commit()
    logger.warning(
        "review_completion_failed store=%s visit=%s case=%s code=%s",
        case.store_id,
        case.visit_id or "-",
        case.id,
        error.code,
    )
