"""The 0002_ledger migration creates exactly the tables the ledger models define."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from payment_backends import LEDGER_TABLES

import walkout.db.models  # noqa: F401  (registers the core tables)
from walkout.db.base import Base
from walkout.db.migrate import downgrade, upgrade


def ledger_differences(url: str) -> list[object]:
    """Return Alembic's differences between the database and the ledger models."""
    ledger_names = {table.name for table in LEDGER_TABLES}

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return type_ != "table" or name in ledger_names

    def include_object(
        item: object, name: str | None, type_: str, reflected: bool, other: object
    ) -> bool:
        table = item if type_ == "table" else getattr(item, "table", None)
        return table is None or getattr(table, "name", None) in ledger_names

    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection,
                opts={
                    "compare_type": True,
                    "include_name": include_name,
                    "include_object": include_object,
                },
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    url: str = request.getfixturevalue("postgres_database_url")
    return url


def test_migration_matches_models(database_url: str) -> None:
    upgrade(database_url, "0002_ledger")

    assert ledger_differences(database_url) == []
    names = set(sa.inspect(sa.create_engine(database_url)).get_table_names())
    assert {table.name for table in LEDGER_TABLES} <= names


def test_downgrade_drops_ledger_tables(database_url: str) -> None:
    upgrade(database_url, "0002_ledger")
    downgrade(database_url, "0001_core")

    names = set(sa.inspect(sa.create_engine(database_url)).get_table_names())
    assert names.isdisjoint(table.name for table in LEDGER_TABLES)
    assert "accounts" in names
