"""Tables of inventory: stock per plate and product, shelf changes, counts, alerts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from walkout.db.base import Base
from walkout.db.types import UTCDateTime

SKU_LENGTH = 64
PLATE_LENGTH = 64
ID_LENGTH = 36  # a UUID in its text form
EVENT_KEY_LENGTH = 255


class InventoryStore(Base):
    """The planogram a store's stock was last started from."""

    __tablename__ = "inventory_stores"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    # SHA-256 of the planogram in canonical JSON. A reload with another
    # planogram starts the stock again.
    planogram_digest: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockLevel(Base):
    """Units of one SKU on one plate."""

    __tablename__ = "stock_levels"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    plate: Mapped[str] = mapped_column(String(PLATE_LENGTH), primary_key=True)
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH), primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    # False while the units are only the net change since loading, because
    # the planogram gave no ``qty`` for this placement and no count set it.
    known: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShelfChange(Base):
    """One decided take (negative ``delta_units``) or put of a SKU on a plate."""

    __tablename__ = "shelf_changes"
    __table_args__ = (
        UniqueConstraint("store_id", "event_key"),
        Index("ix_shelf_changes_store_visit", "store_id", "visit_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    event_key: Mapped[str] = mapped_column(String(EVENT_KEY_LENGTH))
    plate: Mapped[str] = mapped_column(String(PLATE_LENGTH))
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    delta_units: Mapped[int] = mapped_column(Integer)
    visit_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    staff: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())


class StockCount(Base):
    """A staff stock take: the units counted of a SKU on a plate."""

    __tablename__ = "stock_counts"
    __table_args__ = (Index("ix_stock_counts_store_id", "store_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    plate: Mapped[str] = mapped_column(String(PLATE_LENGTH))
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    counted_units: Mapped[int] = mapped_column(Integer)
    # Units the service held before the count, or None when they were unknown.
    previous_units: Mapped[int | None] = mapped_column(Integer, default=None)
    account_id: Mapped[str] = mapped_column(String(ID_LENGTH))
    counted_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InventoryAlert(Base):
    """A low-stock, misplaced-item or negative-stock alert of a store."""

    __tablename__ = "inventory_alerts"
    __table_args__ = (
        # ``open_key`` is set only while the alert is open, so the constraint
        # allows one open alert per kind, plate and SKU and any number of
        # resolved ones (NULLs never clash in SQLite or PostgreSQL).
        UniqueConstraint("store_id", "open_key"),
        Index("ix_inventory_alerts_store_state", "store_id", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    sku: Mapped[str] = mapped_column(String(SKU_LENGTH))
    # None for a low-stock alert, which concerns all plates of the product.
    plate: Mapped[str | None] = mapped_column(String(PLATE_LENGTH), default=None)
    state: Mapped[str] = mapped_column(String(16))
    open_key: Mapped[str | None] = mapped_column(String(200), default=None)
    units_at_open: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    acknowledged_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime(), default=None
    )
    acknowledged_by: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
