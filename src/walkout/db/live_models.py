"""Tables of the live store: stored inputs, plate clocks, live visits, fusion carts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from walkout.db.base import Base
from walkout.db.types import Money, UTCDateTime

BATCH_ID_LENGTH = 128


class LiveInput(Base):
    """One stored input of a store's fusion stream: a sensor batch or a gate row.

    ``id`` orders the stream. ``batch_id`` is the client's id of a sensor
    batch (or a generated one for gate rows), unique per store, so a retried
    batch is stored once.
    """

    __tablename__ = "live_inputs"
    __table_args__ = (
        UniqueConstraint("store_id", "batch_id", name="uq_live_inputs_store_batch"),
        Index("ix_live_inputs_store_id_id", "store_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    batch_id: Mapped[str] = mapped_column(String(BATCH_ID_LENGTH))
    # "sensors" or "gate".
    kind: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LivePlateClock(Base):
    """Time of the last stored reading of one plate, and when it was received.

    ``t`` rejects readings whose time goes back. ``received_at`` (null on rows
    stored before the column existed) lets ingestion carry the sensor clock forward
    in wall time, to reject readings dated too far ahead of it.
    """

    __tablename__ = "live_plate_clocks"

    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    plate: Mapped[str] = mapped_column(String(64), primary_key=True)
    t: Mapped[float] = mapped_column(Float)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LiveVisit(Base):
    """Live state of a visit: its kind and, once settled by fusion, the outcome."""

    __tablename__ = "live_visits"

    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(64))
    # A staff or admin account's visit: stock work, charged to no one.
    restock: Mapped[bool] = mapped_column(Boolean, default=False)
    # Sensor-clock times (seconds) of the entry and of the last track's exit.
    entry_t: Mapped[float | None] = mapped_column(Float, default=None)
    exit_t: Mapped[float | None] = mapped_column(Float, default=None)


class FusionCartLine(Base):
    """A line of a visit's cart as fusion last decided it; replaced per visit."""

    __tablename__ = "fusion_cart_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    confidence: Mapped[float] = mapped_column(Float)
    review_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
