from __future__ import annotations

import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import walkout.db.inventory_models
import walkout.db.live_models
import walkout.db.models
import walkout.db.review_models
import walkout.payments.ledger_models
from walkout.db.base import Base
from walkout.db.migrate import downgrade, upgrade

CORE_TABLES = {
    "accounts",
    "stores",
    "products",
    "store_staff",
    "entry_passes",
    "visits",
    "visit_tracks",
    "cart_lines",
    "receipts",
    "receipt_lines",
    "store_events",
}


def test_upgrade_creates_tables_matching_models(database_url: str) -> None:
    upgrade(database_url)

    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sqlalchemy.inspect(connection).get_table_names())
            context = MigrationContext.configure(connection)
            differences = compare_metadata(context, Base.metadata)
            revision = context.get_current_revision()
    finally:
        engine.dispose()
    assert tables >= CORE_TABLES
    assert differences == []
    assert revision is not None


def test_downgrade_to_base_drops_tables(database_url: str) -> None:
    upgrade(database_url)

    downgrade(database_url, "base")

    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(sqlalchemy.inspect(connection).get_table_names())
    finally:
        engine.dispose()
    assert tables <= {"alembic_version"}


def test_core_revision_id_is_stable() -> None:
    from alembic.script import ScriptDirectory

    from walkout.db.migrate import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))

    assert scripts.get_revision("0001_core").down_revision is None
    assert walkout.db.models.Account.__tablename__ == "accounts"
