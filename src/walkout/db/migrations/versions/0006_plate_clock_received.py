"""Keep when each plate's last reading was received.

Revision ID: 0006_plate_clock_received
Revises: 0005_inventory
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from walkout.db.types import UTCDateTime

revision: str = "0006_plate_clock_received"
down_revision: str | None = "0005_inventory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("live_plate_clocks") as batch:
        batch.add_column(sa.Column("received_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("live_plate_clocks") as batch:
        batch.drop_column("received_at")
