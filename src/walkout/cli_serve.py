"""``walkout serve``: migrate the database, load stores and run the store service."""

from __future__ import annotations

import asyncio
import enum
import logging
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from walkout.recording import RecordingError

if TYPE_CHECKING:
    from walkout.service.context import ServiceContext
    from walkout.service.settings import Settings

logger = logging.getLogger(__name__)
errors = Console(stderr=True)

EXIT_BAD_CONFIG = 2


class Part(enum.StrEnum):
    """The parts of the service one process runs."""

    ALL = "all"
    API = "api"
    FUSION = "fusion"


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
    only: Annotated[
        Part,
        typer.Option(
            help="Run only the HTTP API or only the fusion workers; fusion alone "
            "needs a nats:// WALKOUT_BUS_URL shared with the API processes."
        ),
    ] = Part.ALL,
) -> None:
    """Run the store service API and fusion (settings come from WALKOUT_* variables)."""
    # Imported here so that the other commands start without the web stack.
    import uvicorn

    from walkout.db import migrate as migrations
    from walkout.service.app import create_app
    from walkout.service.settings import Settings

    # The walkout command has configured logging already, so force replaces it.
    logging.basicConfig(
        level=log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        force=True,
    )
    try:
        settings = Settings()
    except ValidationError as error:
        # A field's error is named by its environment variable; a check
        # across fields names its variables in the message.
        details = "; ".join(
            f"{_variable_name(item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise _fail(f"invalid settings: {details}") from None

    if only is Part.FUSION and not settings.bus_url:
        raise _fail(
            "--only fusion needs WALKOUT_BUS_URL=nats://HOST:PORT, because the "
            "API processes reach a separate fusion process through NATS JetStream"
        )

    url = settings.resolved_database_url
    if url.startswith("sqlite") and not settings.database_url:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if migrate or migrate_only:
        migrations.upgrade(url)
        logger.info("database_migrated")
    if migrate_only:
        return

    from walkout.live.nats_bus import NatsBusError

    if only is Part.FUSION:
        try:
            asyncio.run(_run_fusion(settings))
        except NatsBusError as error:
            raise _fail(str(error)) from None
        return
    if settings.bus_url:
        # uvicorn reports a failed start-up with tracebacks, so an
        # unreachable NATS server is found before it starts.
        try:
            asyncio.run(_check_bus(settings))
        except NatsBusError as error:
            raise _fail(str(error)) from None
    if only is Part.API and not settings.bus_url:
        logger.warning(
            "serving the API without fusion on the in-process bus: no process "
            "consumes the stored inputs until one runs fusion on this database"
        )
    app = create_app(settings, run_fusion=only is Part.ALL)
    for directory in store or []:
        _load_store(app.state.context, directory, occupancy_limit)

    logger.info("service_starting host=%s port=%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())


def _variable_name(location: tuple[int | str, ...]) -> str:
    """Return the ``WALKOUT_*`` variable of a settings error's location."""
    if not location:
        return "settings"
    return f"WALKOUT_{str(location[0]).upper()}"


def _load_store(
    context: ServiceContext, directory: Path, occupancy_limit: int | None
) -> None:
    from walkout.store.errors import StoreError
    from walkout.store.stores import load_store_directory, save_store

    try:
        layout, document = load_store_directory(directory)
    except RecordingError as error:
        raise _fail(str(error)) from None
    with context.session_factory() as session:
        try:
            save_store(
                session,
                layout,
                document,
                occupancy_limit=occupancy_limit,
                now=context.clock(),
                replace=True,
            )
        except StoreError as error:
            raise _fail(f"{directory / 'store.json'}: {error.message}") from None
    logger.info("store_loaded store=%s source=%s", layout.info.id, directory)


async def _check_bus(settings: Settings) -> None:
    """Connect to the configured bus once; raise ``NatsBusError`` if it fails."""
    from walkout.live.bus import build_bus

    bus = build_bus(settings)
    await bus.start()
    await bus.close()


async def _run_fusion(settings: Settings) -> None:
    """Run the stores' fusion workers until SIGINT or SIGTERM."""
    from walkout.db.session import build_engine, build_session_factory
    from walkout.live.bus import build_bus
    from walkout.live.service import LiveService
    from walkout.service.context import utc_now
    from walkout.service.payments import build_provider

    engine = build_engine(settings.resolved_database_url)
    session_factory = build_session_factory(engine)
    live = LiveService(
        build_bus(settings),
        session_factory,
        build_provider(settings, session_factory),
        utc_now,
        run_fusion=True,
        settle_margin_s=settings.settle_margin_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await live.start()
    logger.info("fusion_started bus=%s", settings.bus_url.split("@")[-1])
    try:
        await stop.wait()
    finally:
        await live.close()
        engine.dispose()
        logger.info("fusion_stopped")
