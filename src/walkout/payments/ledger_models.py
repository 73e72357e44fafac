"""Tables of the built-in ledger provider.

Amounts are stored as integers in the currency's minor unit, so that they are
exact on every database (SQLite has no exact decimal type). Check constraints
repeat the ledger's invariants: a capture never exceeds its hold and refunds
never exceed the capture.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from walkout.db.base import Base
from walkout.db.types import UTCDateTime


def utc_now() -> datetime:
    return datetime.now(UTC)


class PaymentCustomerRow(Base):
    __tablename__ = "payment_customers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class PaymentMethodRow(Base):
    """A card attached to a customer; the token it came from is not stored."""

    __tablename__ = "payment_methods"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("payment_customers.id"), index=True
    )
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    # The decline code every hold on this card ends with; None for a good card.
    decline_code: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class PaymentHoldRow(Base):
    """An authorisation and, once captured, the charge that settled it."""

    __tablename__ = "payment_holds"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "captured_minor >= 0 AND captured_minor <= amount_minor",
            name="captured_within_hold",
        ),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= captured_minor",
            name="refunded_within_capture",
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("payment_customers.id"), index=True
    )
    payment_method_id: Mapped[str] = mapped_column(ForeignKey("payment_methods.id"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # One of walkout.payments.base.PaymentStatus.
    status: Mapped[str] = mapped_column(String(16))
    decline_code: Mapped[str | None] = mapped_column(String(64))
    # Optimistic lock: an UPDATE that finds another version raises StaleDataError.
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), default=utc_now, onupdate=utc_now
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PaymentRefundRow(Base):
    __tablename__ = "payment_refunds"
    __table_args__ = (CheckConstraint("amount_minor > 0", name="amount_positive"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    hold_id: Mapped[str] = mapped_column(ForeignKey("payment_holds.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class PaymentIdempotencyRow(Base):
    """The first result stored under an idempotency key, replayed on repeats."""

    __tablename__ = "payment_idempotency"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    operation: Mapped[str] = mapped_column(String(32))
    # SHA-256 hex digest of the canonical request, to detect a reused key.
    request_hash: Mapped[str] = mapped_column(String(64))
    # JSON of the stored outcome: a hold, a refund or a card decline.
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
