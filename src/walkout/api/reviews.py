"""The review queue, disputes and returns.

Reviewers and admins work the queue; a shopper disputes their own receipts;
store staff (and admins) scan returned items in their store.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Response, status
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from walkout.api.deps import (
    CurrentAccount,
    NowDep,
    ProviderDep,
    SessionDep,
    SettingsDep,
    require_role,
)
from walkout.api.errors import ErrorBody, ErrorDetail
from walkout.db.models import Account, Store
from walkout.db.review_models import (
    Dispute,
    ItemReturn,
    ReviewCase,
    ReviewLine,
)
from walkout.review_plots import positions_png, trace_png
from walkout.store import disputes, reviews, stores
from walkout.store.accounts import Role
from walkout.store.errors import PermissionDeniedError

router = APIRouter(tags=["reviews"])

ReviewerAccount = Annotated[Account, Depends(require_role(Role.REVIEWER, Role.ADMIN))]
CaseId = Annotated[str, Path(max_length=36)]
LineId = Annotated[int, Path(ge=1, le=2**31 - 1)]
DisputeId = Annotated[str, Path(max_length=36)]
ReceiptId = Annotated[str, Path(max_length=36)]
StoreId = Annotated[str, Path(max_length=64)]
ReturnId = Annotated[str, Path(max_length=36)]
Sku = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Note = Annotated[str, StringConstraints(max_length=2000)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="repeat it on a retry: the first result comes back and "
        "no money moves twice",
    ),
]

PNG_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "a PNG image"},
    404: {"model": ErrorBody},
}


# Response and request models.


class TraceOut(BaseModel):
    plate: str
    t: list[float]
    g: list[float]


class ReviewLineOut(BaseModel):
    id: int
    sku: str
    qty: int
    unit_price: Decimal
    review_reason: str
    plate: str
    t_start: float
    t_end: float
    delta_g: float
    product_candidates: list[tuple[str, float]]
    shopper_candidates: list[tuple[str, float]]
    trace: list[TraceOut]
    positions: list[dict[str, Any]]
    in_cart_qty: int = Field(
        description="units of the proposal that the visit's cart already counted "
        "when the review opened"
    )
    decision: reviews.LineDecision | None
    decided_sku: str | None
    decided_qty: int | None
    decided_unit_price: Decimal | None
    note: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def from_row(cls, line: ReviewLine) -> ReviewLineOut:
        return cls(
            id=line.id,
            sku=line.sku,
            qty=line.qty,
            unit_price=line.unit_price,
            review_reason=line.review_reason,
            plate=line.plate,
            t_start=line.t_start,
            t_end=line.t_end,
            delta_g=line.delta_g,
            product_candidates=[(str(s), float(p)) for s, p in line.product_candidates],
            shopper_candidates=[(str(v), float(p)) for v, p in line.shopper_candidates],
            trace=[
                TraceOut(plate=str(plate), t=list(times), g=list(grams))
                for plate, times, grams in line.trace
            ],
            positions=list(line.positions),
            in_cart_qty=line.in_cart_qty,
            decision=reviews.LineDecision(line.decision) if line.decision else None,
            decided_sku=line.decided_sku,
            decided_qty=line.decided_qty,
            decided_unit_price=line.decided_unit_price,
            note=line.note,
            decided_by=line.decided_by,
            decided_at=line.decided_at,
        )


class DisputeLineIn(BaseModel):
    sku: Sku
    qty: int = Field(ge=1, le=100)


class DisputeIn(BaseModel):
    lines: list[DisputeLineIn] = Field(min_length=1, max_length=50)
    reason: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class DisputeLineOut(BaseModel):
    sku: str
    qty: int
    unit_price: Decimal
    amount: Decimal


class DisputeOut(BaseModel):
    id: str
    receipt_id: str
    store_id: str
    status: disputes.DisputeStatus
    reason: str
    amount: Decimal
    currency: str
    created_at: datetime
    decided_at: datetime | None
    note: str | None
    error_code: str | None
    review_id: str | None
    lines: list[DisputeLineOut]

    @classmethod
    def build(cls, session: Session, dispute: Dispute) -> DisputeOut:
        case = disputes.case_of_dispute(session, dispute.id)
        return cls(
            id=dispute.id,
            receipt_id=dispute.receipt_id,
            store_id=dispute.store_id,
            status=disputes.DisputeStatus(dispute.status),
            reason=dispute.reason,
            amount=dispute.amount,
            currency=dispute.currency,
            created_at=dispute.created_at,
            decided_at=dispute.decided_at,
            note=dispute.note,
            error_code=dispute.error_code,
            review_id=case.id if case is not None else None,
            lines=[
                DisputeLineOut(
                    sku=line.sku,
                    qty=line.qty,
                    unit_price=line.unit_price,
                    amount=line.amount,
                )
                for line in dispute.lines
            ],
        )


class ReviewCaseSummary(BaseModel):
    id: str
    kind: reviews.CaseKind
    status: reviews.CaseStatus
    store_id: str
    visit_id: str | None
    dispute_id: str | None
    opened_at: datetime
    lines: int
    undecided_lines: int

    @classmethod
    def from_row(cls, case: ReviewCase) -> ReviewCaseSummary:
        return cls(
            id=case.id,
            kind=reviews.CaseKind(case.kind),
            status=reviews.CaseStatus(case.status),
            store_id=case.store_id,
            visit_id=case.visit_id,
            dispute_id=case.dispute_id,
            opened_at=case.opened_at,
            lines=len(case.lines),
            undecided_lines=sum(1 for line in case.lines if line.decision is None),
        )


class ReviewCaseOut(ReviewCaseSummary):
    decided_at: datetime | None
    decided_by: str | None
    note: str | None
    closed_at: datetime | None
    error: ErrorDetail | None = Field(
        description="why settling the visit or refunding the dispute failed; "
        "POST .../complete retries it"
    )
    review_lines: list[ReviewLineOut]
    dispute: DisputeOut | None

    @classmethod
    def build(cls, session: Session, case: ReviewCase) -> ReviewCaseOut:
        summary = ReviewCaseSummary.from_row(case)
        dispute = (
            session.get(Dispute, case.dispute_id)
            if case.dispute_id is not None
            else None
        )
        error = None
        if case.error_code is not None:
            error = ErrorDetail(code=case.error_code, message=case.error_message or "")
        return cls(
            **summary.model_dump(),
            decided_at=case.decided_at,
            decided_by=case.decided_by,
            note=case.note,
            closed_at=case.closed_at,
            error=error,
            review_lines=[ReviewLineOut.from_row(line) for line in case.lines],
            dispute=DisputeOut.build(session, dispute) if dispute is not None else None,
        )


class LineDecisionIn(BaseModel):
    decision: reviews.LineDecision = Field(
        description="charge as proposed, charge a corrected sku and/or qty, or "
        "drop the line (not this shopper)"
    )
    sku: Sku | None = Field(default=None, description="corrected sku")
    qty: int | None = Field(
        default=None, ge=-100, le=100, description="corrected qty (non-zero)"
    )
    note: Note | None = None


class DisputeDecisionIn(BaseModel):
    approve: bool
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class PositionsOut(BaseModel):
    plate: str
    plate_center: list[float] | None
    plate_size: list[float] | None
    t_start: float
    t_end: float
    shopper_candidates: list[tuple[str, float]]
    positions: list[dict[str, Any]]


class ReturnIn(BaseModel):
    receipt_id: Annotated[str, StringConstraints(min_length=1, max_length=36)]
    sku: Sku
    qty: int = Field(ge=1, le=100)


class ReturnOut(BaseModel):
    id: str
    store_id: str
    receipt_id: str
    sku: str
    qty: int
    unit_price: Decimal
    amount: Decimal
    status: disputes.ReturnStatus
    scanned_by: str
    created_at: datetime
    error_code: str | None

    @classmethod
    def from_row(cls, item_return: ItemReturn) -> ReturnOut:
        return cls(
            id=item_return.id,
            store_id=item_return.store_id,
            receipt_id=item_return.receipt_id,
            sku=item_return.sku,
            qty=item_return.qty,
            unit_price=item_return.unit_price,
            amount=item_return.amount,
            status=disputes.ReturnStatus(item_return.status),
            scanned_by=item_return.scanned_by,
            created_at=item_return.created_at,
            error_code=item_return.error_code,
        )


def _line_of(
    session: Session, case_id: str, line_id: int
) -> tuple[ReviewCase, ReviewLine]:
    case = reviews.get_case(session, case_id)
    return case, reviews.get_line(case, line_id)


def _title(case: ReviewCase, line: ReviewLine) -> str:
    return (
        f"store {case.store_id}, visit {(case.visit_id or '-')[:8]}, plate "
        f"{line.plate}: {line.sku} x{line.qty} ({line.review_reason})"
    )


# The review queue.


@router.get("/reviews", responses={403: {"model": ErrorBody}})
def list_reviews(
    _: ReviewerAccount,
    session: SessionDep,
    store_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: reviews.CaseKind | None = None,
    case_status: Annotated[
        reviews.CaseStatus, Query(alias="status")
    ] = reviews.CaseStatus.OPEN,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[ReviewCaseSummary]:
    """Return review cases, oldest first; ``status`` defaults to open."""
    cases = reviews.list_cases(
        session, status=case_status, store_id=store_id, kind=kind, limit=limit
    )
    return [ReviewCaseSummary.from_row(case) for case in cases]


@router.get(
    "/reviews/{case_id}",
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def read_review(
    case_id: CaseId, _: ReviewerAccount, session: SessionDep
) -> ReviewCaseOut:
    """Return a case with each line's evidence, or its dispute."""
    return ReviewCaseOut.build(session, reviews.get_case(session, case_id))


@router.get(
    "/reviews/{case_id}/lines/{line_id}/trace.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
def read_trace_png(
    case_id: CaseId, line_id: LineId, _: ReviewerAccount, session: SessionDep
) -> Response:
    """Draw the line's weight trace with the event window marked."""
    case, line = _line_of(session, case_id, line_id)
    image = trace_png(
        line.trace,
        plate=line.plate,
        t_start=line.t_start,
        t_end=line.t_end,
        delta_g=line.delta_g,
        title=_title(case, line),
    )
    return Response(content=image, media_type="image/png")


def _plates(session: Session, case: ReviewCase) -> list[dict[str, Any]]:
    store = session.get(Store, case.store_id)
    layout = store.layout if store is not None else {}
    plates = layout.get("plates") if isinstance(layout, dict) else None
    return [plate for plate in plates or [] if isinstance(plate, dict)]


@router.get(
    "/reviews/{case_id}/lines/{line_id}/positions",
    responses={403: {"model": ErrorBody}, 404: {"model": ErrorBody}},
)
def read_positions(
    case_id: CaseId, line_id: LineId, _: ReviewerAccount, session: SessionDep
) -> PositionsOut:
    """Return the tracked joints near the plate around the event, with the plate."""
    case, line = _line_of(session, case_id, line_id)
    plate = next((p for p in _plates(session, case) if p.get("id") == line.plate), None)
    center = plate.get("center") if plate is not None else None
    size = plate.get("size") if plate is not None else None
    return PositionsOut(
        plate=line.plate,
        plate_center=[float(v) for v in center] if isinstance(center, list) else None,
        plate_size=[float(v) for v in size] if isinstance(size, list) else None,
        t_start=line.t_start,
        t_end=line.t_end,
        shopper_candidates=[(str(v), float(p)) for v, p in line.shopper_candidates],
        positions=list(line.positions),
    )


@router.get(
    "/reviews/{case_id}/lines/{line_id}/positions.png",
    response_class=Response,
    responses=PNG_RESPONSE,
)
def read_positions_png(
    case_id: CaseId, line_id: LineId, _: ReviewerAccount, session: SessionDep
) -> Response:
    """Draw a top view of the plate and the shoppers' wrists around the event."""
    case, line = _line_of(session, case_id, line_id)
    plates = _plates(session, case)
    plate = next((p for p in plates if p.get("id") == line.plate), None)
    image = positions_png(
        line.positions,
        plate=plate,
        other_plates=[p for p in plates if p is not plate],
        t_start=line.t_start,
        t_end=line.t_end,
        shopper_candidates={str(v): float(p) for v, p in line.shopper_candidates},
        title=_title(case, line),
    )
    return Response(content=image, media_type="image/png")


@router.post(
    "/reviews/{case_id}/lines/{line_id}/decision",
    responses={
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def decide_line(
    case_id: CaseId,
    line_id: LineId,
    body: LineDecisionIn,
    reviewer: ReviewerAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> ReviewCaseOut:
    """Decide one line; the last decision applies them all to the cart and settles.

    A failed settlement still returns 200 with the decisions stored and the
    case's ``error`` set; ``POST /reviews/{case_id}/complete`` retries it.
    """
    case = reviews.get_case(session, case_id)
    reviews.decide_line(
        session,
        provider,
        case,
        line_id,
        decision=body.decision,
        sku=body.sku,
        qty=body.qty,
        note=body.note,
        reviewer=reviewer,
        now=now,
    )
    return ReviewCaseOut.build(session, case)


@router.post(
    "/reviews/{case_id}/decision",
    responses={
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def decide_dispute(
    case_id: CaseId,
    body: DisputeDecisionIn,
    reviewer: ReviewerAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> ReviewCaseOut:
    """Approve (refund) or reject the dispute of a case of kind ``dispute``."""
    case = reviews.get_case(session, case_id)
    disputes.decide_dispute(
        session,
        provider,
        case,
        approve=body.approve,
        note=body.note,
        reviewer=reviewer,
        now=now,
    )
    return ReviewCaseOut.build(session, case)


@router.post(
    "/reviews/{case_id}/complete",
    responses={
        402: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def complete_review(
    case_id: CaseId,
    _: ReviewerAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> ReviewCaseOut:
    """Retry settling the visit or refunding the dispute of a decided case."""
    case = reviews.get_case(session, case_id)
    reviews.complete_case(session, provider, case, now=now)
    return ReviewCaseOut.build(session, case)


# Disputes.


@router.post(
    "/receipts/{receipt_id}/disputes",
    status_code=status.HTTP_201_CREATED,
    tags=["disputes"],
    responses={
        402: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def open_dispute(
    receipt_id: ReceiptId,
    body: DisputeIn,
    account: CurrentAccount,
    session: SessionDep,
    provider: ProviderDep,
    settings: SettingsDep,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> DisputeOut:
    """Dispute lines of the caller's receipt: refunded at once or sent to review."""
    dispute = disputes.open_dispute(
        session,
        provider,
        receipt_id=receipt_id,
        lines=[disputes.ClaimedLine(sku=line.sku, qty=line.qty) for line in body.lines],
        reason=body.reason,
        shopper=account,
        auto_refund_limit=settings.dispute_auto_refund_limit,
        now=now,
        request_key=idempotency_key,
    )
    return DisputeOut.build(session, dispute)


@router.get("/disputes", tags=["disputes"])
def list_disputes(account: CurrentAccount, session: SessionDep) -> list[DisputeOut]:
    """Return the caller's own disputes, newest first."""
    return [
        DisputeOut.build(session, dispute)
        for dispute in disputes.list_own_disputes(session, account)
    ]


@router.get(
    "/disputes/{dispute_id}", tags=["disputes"], responses={404: {"model": ErrorBody}}
)
def read_dispute(
    dispute_id: DisputeId, account: CurrentAccount, session: SessionDep
) -> DisputeOut:
    """Return one dispute; another shopper's dispute reads as not found."""
    return DisputeOut.build(
        session, disputes.get_dispute(session, dispute_id, reader=account)
    )


@router.post(
    "/disputes/{dispute_id}/refund",
    tags=["disputes"],
    responses={
        402: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def retry_dispute_refund(
    dispute_id: DisputeId,
    account: CurrentAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> DisputeOut:
    """Retry the refund of an approved dispute whose refund failed or was cut off."""
    dispute = disputes.get_dispute(session, dispute_id, reader=account)
    disputes.refund_dispute(session, provider, dispute, now=now)
    return DisputeOut.build(session, dispute)


# Returns.


def _require_store_operator(session: Session, account: Account, store_id: str) -> None:
    store = stores.get_store(session, store_id)
    if not stores.can_operate(session, account, store.id):
        raise PermissionDeniedError(
            "not_store_staff",
            f"only staff of store {store.id!r} and admins take back returns",
        )


@router.post(
    "/stores/{store_id}/returns",
    status_code=status.HTTP_201_CREATED,
    tags=["returns"],
    responses={
        402: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        409: {"model": ErrorBody},
    },
)
def accept_return(
    store_id: StoreId,
    body: ReturnIn,
    account: CurrentAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
    idempotency_key: IdempotencyKey = None,
) -> ReturnOut:
    """Take back an unopened item and refund it at the price it was bought for."""
    _require_store_operator(session, account, store_id)
    item_return = disputes.accept_return(
        session,
        provider,
        store_id=store_id,
        receipt_id=body.receipt_id,
        sku=body.sku,
        qty=body.qty,
        staff=account,
        now=now,
        request_key=idempotency_key,
    )
    return ReturnOut.from_row(item_return)


@router.post(
    "/stores/{store_id}/returns/{return_id}/refund",
    tags=["returns"],
    responses={
        402: {"model": ErrorBody},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
    },
)
def retry_return_refund(
    store_id: StoreId,
    return_id: ReturnId,
    account: CurrentAccount,
    session: SessionDep,
    provider: ProviderDep,
    now: NowDep,
) -> ReturnOut:
    """Retry the refund of a return whose refund failed or was cut off."""
    _require_store_operator(session, account, store_id)
    item_return = disputes.get_return(session, store_id, return_id)
    disputes.refund_return(session, provider, item_return, now=now)
    return ReturnOut.from_row(item_return)
