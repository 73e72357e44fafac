"""Create the tables of review, disputes and returns.

Revision ID: 0004_reviews
Revises: 0003_live
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from walkout.db.types import Money, UTCDateTime

revision: str = "0004_reviews"
down_revision: str | None = "0003_live"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("receipt_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_disputes_account_id_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_disputes_receipt_id_receipts"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_disputes_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disputes")),
        sa.UniqueConstraint(
            "account_id", "request_key", name="uq_disputes_account_request_key"
        ),
    )
    op.create_index("ix_disputes_account_id", "disputes", ["account_id"])

    op.create_table(
        "dispute_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dispute_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
            name=op.f("fk_dispute_lines_dispute_id_disputes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispute_lines")),
    )

    op.create_table(
        "item_returns",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("receipt_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("scanned_by", sa.String(length=36), nullable=False),
        sa.Column("request_key", sa.String(length=255), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_item_returns_receipt_id_receipts"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_item_returns_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_returns")),
        sa.UniqueConstraint(
            "store_id", "request_key", name="uq_item_returns_store_request_key"
        ),
    )
    op.create_index("ix_item_returns_receipt_id", "item_returns", ["receipt_id"])

    op.create_table(
        "receipt_refunds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("receipt_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("amount", Money(), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("dispute_id", sa.String(length=36), nullable=True),
        sa.Column("return_id", sa.String(length=36), nullable=True),
        sa.Column("provider_refund_id", sa.String(length=255), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("refunded_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
            name=op.f("fk_receipt_refunds_dispute_id_disputes"),
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_receipt_refunds_receipt_id_receipts"),
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["item_returns.id"],
            name=op.f("fk_receipt_refunds_return_id_item_returns"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_refunds")),
        sa.UniqueConstraint(
            "idempotency_key", "sku", name="uq_receipt_refunds_key_sku"
        ),
    )
    op.create_index("ix_receipt_refunds_receipt_id", "receipt_refunds", ["receipt_id"])

    op.create_table(
        "review_cases",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("store_id", sa.String(length=64), nullable=False),
        sa.Column("visit_id", sa.String(length=36), nullable=True),
        sa.Column("dispute_id", sa.String(length=36), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["dispute_id"],
            ["disputes.id"],
            name=op.f("fk_review_cases_dispute_id_disputes"),
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_review_cases_store_id_stores")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visits.id"], name=op.f("fk_review_cases_visit_id_visits")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
        sa.UniqueConstraint("dispute_id", name=op.f("uq_review_cases_dispute_id")),
        sa.UniqueConstraint("visit_id", name=op.f("uq_review_cases_visit_id")),
    )
    op.create_index(
        "ix_review_cases_status_opened", "review_cases", ["status", "opened_at"]
    )

    op.create_table(
        "review_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("unit_price", Money(), nullable=False),
        sa.Column("review_reason", sa.String(length=64), nullable=False),
        sa.Column("plate", sa.String(length=64), nullable=False),
        sa.Column("t_start", sa.Double(), nullable=False),
        sa.Column("t_end", sa.Double(), nullable=False),
        sa.Column("delta_g", sa.Double(), nullable=False),
        sa.Column("product_candidates", sa.JSON(), nullable=False),
        sa.Column("shopper_candidates", sa.JSON(), nullable=False),
        sa.Column("trace", sa.JSON(), nullable=False),
        sa.Column("positions", sa.JSON(), nullable=False),
        sa.Column("in_cart_qty", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_sku", sa.String(length=64), nullable=True),
        sa.Column("decided_qty", sa.Integer(), nullable=True),
        sa.Column("decided_unit_price", Money(), nullable=True),
        sa.Column("note", sa.String(length=2000), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["review_cases.id"],
            name=op.f("fk_review_lines_case_id_review_cases"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_lines")),
    )
    op.create_index("ix_review_lines_case_id", "review_lines", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_review_lines_case_id", table_name="review_lines")
    op.drop_table("review_lines")
    op.drop_index("ix_review_cases_status_opened", table_name="review_cases")
    op.drop_table("review_cases")
    op.drop_index("ix_receipt_refunds_receipt_id", table_name="receipt_refunds")
    op.drop_table("receipt_refunds")
    op.drop_index("ix_item_returns_receipt_id", table_name="item_returns")
    op.drop_table("item_returns")
    op.drop_table("dispute_lines")
    op.drop_index("ix_disputes_account_id", table_name="disputes")
    op.drop_table("disputes")
