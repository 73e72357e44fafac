"""Create the tables of the live store.

Revision ID: 0003_live
Revises: 0002_ledger
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from walkout.db.types import Money, UTCDateTime

revision: str = "0003_live"
down_revision: str | None = "0002_ledger"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_inputs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_live_inputs_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_inputs")),
        sa.UniqueConstraint("store_id", "batch_id", name="uq_live_inputs_store_batch"),
    )
    op.create_index("ix_live_inputs_store_id_id", "live_inputs", ["store_id", "id"])

    op.create_table(
        "live_plate_clocks",
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=False),
        sa.Column("t", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_live_plate_clocks_store_id_stores"),
        ),
        sa.PrimaryKeyConstraint("store_id", "plate", name=op.f("pk_live_plate_clocks")),
    )

    op.create_table(
        "live_visits",
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("restock", sa.Boolean(), nullable=False),
        sa.Column("entry_t", sa.Float(), nullable=True),
        sa.Column("exit_t", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_live_visits_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("visit_id", name=op.f("pk_live_visits")),
    )

    op.create_table(
        "fusion_cart_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("visit_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("review_reason", sa.String(length=32), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visits.id"],
            name=op.f("fk_fusion_cart_lines_visit_id_visits"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fusion_cart_lines")),
    )
    op.create_index(
        op.f("ix_fusion_cart_lines_visit_id"), "fusion_cart_lines", ["visit_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_fusion_cart_lines_visit_id"), table_name="fusion_cart_lines")
    op.drop_table("fusion_cart_lines")
    op.drop_table("live_visits")
    op.drop_table("live_plate_clocks")
    op.drop_index("ix_live_inputs_store_id_id", table_name="live_inputs")
    op.drop_table("live_inputs")
