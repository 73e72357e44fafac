"""Create the tables of inventory and alerts.

Revision ID: 0005_inventory
Revises: 0004_reviews
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from walkout.db.types import UTCDateTime

revision: str = "0005_inventory"
down_revision: str | None = "0004_reviews"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _store_foreign_key(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["store_id"],
        ["stores.id"],
        name=op.f(f"fk_{table}_store_id_stores"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "inventory_stores",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("planogram_digest", sa.String(length=64), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        _store_foreign_key("inventory_stores"),
        sa.PrimaryKeyConstraint("store_id", name=op.f("pk_inventory_stores")),
    )
    op.create_table(
        "stock_levels",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("known", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _store_foreign_key("stock_levels"),
        sa.PrimaryKeyConstraint(
            "store_id", "plate", "sku", name=op.f("pk_stock_levels")
        ),
    )
    op.create_table(
        "shelf_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("event_key", sa.String(length=255), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("delta_units", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.String(length=36), nullable=True),
        sa.Column("staff", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        _store_foreign_key("shelf_changes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shelf_changes")),
        sa.UniqueConstraint(
            "store_id", "event_key", name=op.f("uq_shelf_changes_store_id")
        ),
    )
    with op.batch_alter_table("shelf_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shelf_changes_store_visit", ["store_id", "visit_id"], unique=False
        )

    op.create_table(
        "stock_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("counted_units", sa.Integer(), nullable=False),
        sa.Column("previous_units", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("counted_at", UTCDateTime(), nullable=False),
        _store_foreign_key("stock_counts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_counts")),
    )
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.create_index("ix_stock_counts_store_id", ["store_id"], unique=False)

    op.create_table(
        "inventory_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=200), nullable=True),
        sa.Column("units_at_open", sa.Integer(), nullable=False),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=36), nullable=True),
        _store_foreign_key("inventory_alerts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inventory_alerts")),
        sa.UniqueConstraint(
            "store_id", "open_key", name=op.f("uq_inventory_alerts_store_id")
        ),
    )
    with op.batch_alter_table("inventory_alerts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inventory_alerts_store_state", ["store_id", "state"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("inventory_alerts", schema=None) as batch_op:
        batch_op.drop_index("ix_inventory_alerts_store_state")
    op.drop_table("inventory_alerts")
    with op.batch_alter_table("stock_counts", schema=None) as batch_op:
        batch_op.drop_index("ix_stock_counts_store_id")
    op.drop_table("stock_counts")
    with op.batch_alter_table("shelf_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_shelf_changes_store_visit")
    op.drop_table("shelf_changes")
    op.drop_table("stock_levels")
    op.drop_table("inventory_stores")
