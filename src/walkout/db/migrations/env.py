"""Alembic environment: the URL comes from the config or from the service settings."""

from __future__ import annotations

from alembic import context

# Imported for their side effect: they register their tables on Base.metadata.
import walkout.db.inventory_models
import walkout.db.live_models
import walkout.db.models
import walkout.db.review_models
import walkout.payments.ledger_models  # noqa: F401
from walkout.db.base import Base
from walkout.db.session import build_engine
from walkout.service.settings import Settings

config = context.config
target_metadata = Base.metadata


def _database_url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    return Settings().resolved_database_url


def run_migrations_offline() -> None:
    context.configure(
        url=_database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = build_engine(_database_url())
    try:
        with engine.connect() as connection:
            # Batch mode lets ALTER TABLE steps run on SQLite by copying the table.
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
