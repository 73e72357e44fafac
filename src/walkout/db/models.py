"""Tables of the store service: accounts, stores, passes, visits, carts, receipts.

The payments ledger keeps its own tables; these refer to a payment only by
the provider's ids (customer, card, hold).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from walkout.db.base import Base
from walkout.db.types import Money, UTCDateTime

ID_LENGTH = 36  # a UUID in its text form
EXTERNAL_ID_LENGTH = 255  # ids issued by a payment provider


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    payment_customer: Mapped[str | None] = mapped_column(
        String(EXTERNAL_ID_LENGTH), default=None
    )
    payment_method: Mapped[str | None] = mapped_column(
        String(EXTERNAL_ID_LENGTH), default=None
    )
    card_brand: Mapped[str | None] = mapped_column(String(32), default=None)
    card_last4: Mapped[str | None] = mapped_column(String(4), default=None)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # People allowed inside at once; None means no limit.
    occupancy_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    # The store.json document the store was loaded from.
    layout: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    products: Mapped[list[Product]] = relationship(
        back_populates="store", cascade="all, delete-orphan", order_by="Product.sku"
    )


class Product(Base):
    __tablename__ = "products"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Money())
    unit_weight_g: Mapped[float]
    age_restricted: Mapped[bool] = mapped_column(Boolean, default=False)

    store: Mapped[Store] = relationship(back_populates="products")


class StoreStaff(Base):
    """A staff account's assignment to one store."""

    __tablename__ = "store_staff"

    store_id: Mapped[str] = mapped_column(
        ForeignKey("stores.id", ondelete="CASCADE"), primary_key=True
    )
    account_id: Mapped[str] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True
    )


class Visit(Base):
    """One shopper's (or one group's) stay in a store, from gate to receipt."""

    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_account_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    party_size: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    currency: Mapped[str] = mapped_column(String(3))
    # None while the entry hold is being placed.
    hold_id: Mapped[str | None] = mapped_column(
        String(EXTERNAL_ID_LENGTH), default=None
    )
    hold_amount: Mapped[Decimal] = mapped_column(Money())

    tracks: Mapped[list[VisitTrack]] = relationship(
        back_populates="visit", order_by="VisitTrack.id"
    )
    cart_lines: Mapped[list[CartLine]] = relationship(
        back_populates="visit", order_by="CartLine.id"
    )


class EntryPass(Base):
    """A signed entry pass; the row makes its nonce single-use."""

    __tablename__ = "entry_passes"

    # The token's ``jti`` claim.
    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    party_size: Mapped[int]
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # "admitted", or the error code that kept the gate shut.
    outcome: Mapped[str | None] = mapped_column(String(64), default=None)
    visit_id: Mapped[str | None] = mapped_column(ForeignKey("visits.id"), default=None)


class VisitTrack(Base):
    """A tracked person bound to a visit from the entry gate to the exit."""

    __tablename__ = "visit_tracks"
    __table_args__ = (Index("ix_visit_tracks_store_track", "store_id", "track_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    track_id: Mapped[str] = mapped_column(String(64))
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

    visit: Mapped[Visit] = relationship(back_populates="tracks")


class CartLine(Base):
    """One take (positive ``qty``) or put-back (negative ``qty``) charged to a visit."""

    __tablename__ = "cart_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"))
    sku: Mapped[str] = mapped_column(String(64))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by: Mapped[str] = mapped_column(String(ID_LENGTH))

    visit: Mapped[Visit] = relationship(back_populates="cart_lines")


class Receipt(Base):
    __tablename__ = "receipts"
    __table_args__ = (Index("ix_receipts_account_id", "account_id"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("visits.id"), unique=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    store_id: Mapped[str] = mapped_column(ForeignKey("stores.id"))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Money())
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The hold's status after settling: "captured" or "cancelled".
    payment_status: Mapped[str] = mapped_column(String(16))

    lines: Mapped[list[ReceiptLine]] = relationship(
        back_populates="receipt", order_by="ReceiptLine.id"
    )


class ReceiptLine(Base):
    __tablename__ = "receipt_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    qty: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money())
    amount: Mapped[Decimal] = mapped_column(Money())

    receipt: Mapped[Receipt] = relationship(back_populates="lines")


class StoreEvent(Base):
    """A domain event (``shopper_entered``, ``receipt_issued``, ...), in order."""

    __tablename__ = "store_events"
    __table_args__ = (Index("ix_store_events_store_id", "store_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    store_id: Mapped[str] = mapped_column(String(64))
    visit_id: Mapped[str | None] = mapped_column(String(ID_LENGTH), default=None)
    name: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
