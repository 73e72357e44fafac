"""``walkout serve``: migrate the database, load stores and run the store service."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from walkout.recording import RecordingError

if TYPE_CHECKING:
    from walkout.service.context import ServiceContext

logger = logging.getLogger(__name__)
errors = Console(stderr=True)

EXIT_BAD_CONFIG = 2


def _fail(message: str) -> typer.Exit:
    errors.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(EXIT_BAD_CONFIG)


def serve(
    host: Annotated[
        str, typer.Option(help="Address to listen on; loopback unless set otherwise.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port to listen on.")] = 8000,
    store: Annotated[
        list[Path] | None,
        typer.Option(
            help="Recording directory whose store.json to load or update; repeatable."
        ),
    ] = None,
    occupancy_limit: Annotated[
        int | None,
        typer.Option(min=1, help="People allowed inside each store loaded by --store."),
    ] = None,
    migrate: Annotated[
        bool, typer.Option(help="Run the database migrations before serving.")
    ] = True,
    migrate_only: Annotated[
        bool, typer.Option(help="Run the database migrations and exit.")
    ] = False,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "info",
) -> None:
    """Run the store service API (settings come from WALKOUT_* variables)."""
    # Imported here so that the other commands start without the web stack.
    import uvicorn

    from walkout.db import migrate as migrations
    from walkout.service.app import create_app
    from walkout.service.settings import Settings

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    try:
        settings = Settings()
    except ValidationError as error:
        details = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'settings'}: "
            f"{item['msg']}"
            for item in error.errors()
        )
        raise _fail(f"invalid settings: {details}") from None

    url = settings.resolved_database_url
    if url.startswith("sqlite") and not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate or migrate_only:
        migrations.upgrade(url)
        logger.info("database_migrated")
    if migrate_only:
        return

    app = create_app(settings)
    for directory in store or []:
        _load_store(app.state.context, directory, occupancy_limit)

    logger.info("service_starting host=%s port=%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())


def _load_store(
    context: ServiceContext, directory: Path, occupancy_limit: int | None
) -> None:
    from walkout.store.stores import load_store_directory, save_store

    try:
        layout, document = load_store_directory(directory)
    except RecordingError as error:
        raise _fail(str(error)) from None
    with context.session_factory() as session:
        save_store(
            session,
            layout,
            document,
            occupancy_limit=occupancy_limit,
            now=context.clock(),
            replace=True,
        )
    logger.info("store_loaded store=%s source=%s", layout.info.id, directory)
