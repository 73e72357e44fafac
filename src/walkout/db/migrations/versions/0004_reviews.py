"""Create the tables of review, disputes and returns.

Revision ID: 0004_reviews
Revises: 0003_live
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0004_reviews"
down_revision: str | None = "0003_live"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
