"""Tables of review: doubtful lines with their evidence, disputes and returns."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from walkout.db.base import Base
from walkout.db.models import EXTERNAL_ID_LENGTH, ID_LENGTH
from walkout.db.types import Money, UTCDateTime

NOTE_LENGTH = 2000
REASON_LENGTH = 64


class ReviewCase(Base):
    """A visit with doubtful lines, or a dispute above the auto-refund limit.

    ``visit_id`` is set only for cases of kind ``visit``, and ``dispute_id``
    only for kind ``dispute``. Both are unique, so a visit or a dispute has
    at most one case.
    """

    __tablename__ = "review_cases"
    __table_args__ = (Index("ix_review_cases_status_opened", "status", "opened_at"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # "open", then "decided" once every decision is in, "closed" once the
    # visit is settled or the dispute refunded or rejected.
    status: Mapped[str] = mapped_column(String(16))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    visit_id: Mapped[str | None] = mapped_column(
        ForeignKey("visits.id"), unique=True, default=None
    )
    dispute_id: Mapped[str | None] = mapped_column(
        ForeignKey("disputes.id"), unique=True, default=None
    )
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # The last failure of settling the visit or refunding the dispute.
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_message: Mapped[str | None] = mapped_column(String(500), default=None)

    lines: Mapped[list[ReviewLine]] = relationship(
        back_populates="case", order_by="ReviewLine.id"
    )


class ReviewLine(Base):
    """One doubtful cart line with the evidence behind it and its decision."""

    __tablename__ = "review_lines"
    __table_args__ = (Index("ix_review_lines_case_id", "case_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("review_cases.id"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    review_reason: Mapped[str] = mapped_column(String(REASON_LENGTH))
    plate: Mapped[str] = mapped_column(String(64))
    t_start: Mapped[float]
    t_end: Mapped[float]
    delta_g: Mapped[float]
    # [[sku, probability], ...] and [[visit id, probability], ...].
    product_candidates: Mapped[list[Any]] = mapped_column(JSON)
    shopper_candidates: Mapped[list[Any]] = mapped_column(JSON)
    # [[plate, [t, ...], [g, ...]], ...]: readings around the event.
    trace: Mapped[list[Any]] = mapped_column(JSON)
    # [{"track", "visit", "t", "joint", "x", "y", "z"}, ...]
    positions: Mapped[list[Any]] = mapped_column(JSON)
    # Units of this line that the visit's cart already counted when the
    # review opened, because fusion writes doubtful lines into its cart too.
    in_cart_qty: Mapped[int] = mapped_column(Integer, default=0)

    # "charge", "correct" or "drop"; None while undecided.
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    decided_sku: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_qty: Mapped[int | None] = mapped_column(Integer, default=None)
    decided_unit_price: Mapped[Decimal | None] = mapped_column(Money(), default=None)
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    case: Mapped[ReviewCase] = relationship(back_populates="lines")


class Dispute(Base):
    """A shopper's claim that receipt lines are wrong, and its refund."""

    __tablename__ = "disputes"
    __table_args__ = (
        Index("ix_disputes_account_id", "account_id"),
        UniqueConstraint(
            "account_id", "request_key", name="uq_disputes_account_request_key"
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    reason: Mapped[str] = mapped_column(String(NOTE_LENGTH))
    # "in_review", "refund_pending", "refunded" or "rejected".
    status: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Money())
    currency: Mapped[str] = mapped_column(String(3))
    # The client's Idempotency-Key header, when it sent one.
    request_key: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    note: Mapped[str | None] = mapped_column(String(NOTE_LENGTH), default=None)
    # The payment error of the last failed refund attempt.
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)

    lines: Mapped[list[DisputeLine]] = relationship(
        back_populates="dispute", order_by="DisputeLine.id"
    )


class DisputeLine(Base):
    __tablename__ = "dispute_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(ForeignKey("disputes.id"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())

    dispute: Mapped[Dispute] = relationship(back_populates="lines")


class ItemReturn(Base):
    """An unopened item that store staff took back, refunded at its bought price."""

    __tablename__ = "item_returns"
    __table_args__ = (
        Index("ix_item_returns_receipt_id", "receipt_id"),
        UniqueConstraint(
            "store_id", "request_key", name="uq_item_returns_store_request_key"
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())
    # "refund_pending" or "refunded".
    status: Mapped[str] = mapped_column(String(16))
    scanned_by: Mapped[str] = mapped_column(String(ID_LENGTH))
    request_key: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)


class ReceiptRefund(Base):
    """Money returned on one receipt line, by a dispute or a return.

    One provider refund may cover several lines of a dispute; each line gets
    its own row with the same ``provider_refund_id`` and ``idempotency_key``.
    """

    __tablename__ = "receipt_refunds"
    __table_args__ = (
        Index("ix_receipt_refunds_receipt_id", "receipt_id"),
        UniqueConstraint("idempotency_key", "sku", name="uq_receipt_refunds_key_sku"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    amount: Mapped[Decimal] = mapped_column(Money())
    # "dispute" or "return".
    cause: Mapped[str] = mapped_column(String(16))
    dispute_id: Mapped[str | None] = mapped_column(
        ForeignKey("disputes.id"), default=None
    )
    return_id: Mapped[str | None] = mapped_column(
        ForeignKey("item_returns.id"), default=None
    )
    provider_refund_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_LENGTH))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    refunded_at: Mapped[datetime] = mapped_column(UTCDateTime())
