"""The app factory of the store service."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from walkout.api import api_router
from walkout.api.errors import install_error_handlers
from walkout.db.session import build_engine, build_session_factory
from walkout.live.bus import build_bus
from walkout.live.service import LiveService
from walkout.payments.base import PaymentProvider
from walkout.service.context import Clock, ServiceContext, utc_now
from walkout.service.payments import build_provider
from walkout.service.settings import Settings
from walkout.store.accounts import ensure_first_admin
from walkout.store.gates import recover_admissions

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    provider: PaymentProvider | None = None,
    clock: Clock = utc_now,
    run_fusion: bool = True,
) -> FastAPI:
    """Build the service app on an already migrated database.

    ``settings`` default to the ``WALKOUT_*`` environment; ``provider``
    defaults to the one the settings name; ``clock`` returns aware UTC times.
    ``run_fusion`` runs the stores' fusion workers inside the app, started
    and stopped with it.
    """
    settings = settings if settings is not None else Settings()
    engine = build_engine(settings.resolved_database_url)
    session_factory = build_session_factory(engine)
    if provider is None:
        provider = build_provider(settings, session_factory)
    live = LiveService(
        build_bus(settings),
        session_factory,
        provider,
        clock,
        run_fusion=run_fusion,
        settle_margin_s=settings.settle_margin_s,
    )
    context = ServiceContext(
        settings=settings,
        engine=engine,
        session_factory=session_factory,
        provider=provider,
        clock=clock,
        live=live,
    )

    if settings.first_admin_email and settings.first_admin_password:
        with session_factory() as session:
            ensure_first_admin(
                session,
                email=settings.first_admin_email,
                password=settings.first_admin_password.get_secret_value(),
                now=clock(),
            )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await live.start()
        stopping = asyncio.Event()
        recovery = asyncio.create_task(
            _recover_admissions_periodically(context, stopping),
            name="admission-recovery",
        )
        try:
            yield
        finally:
            # A run in progress finishes its payment calls before shutdown
            # goes on, since its worker thread cannot be cancelled.
            stopping.set()
            await recovery
            await live.close()

    app = FastAPI(
        lifespan=lifespan,
        title="walkout store service",
        summary="Accounts, entry passes, gates, visits and receipts of a "
        "cashierless store.",
        version="0.1.0",
    )
    app.state.context = context
    install_error_handlers(app)
    app.include_router(api_router)
    logger.info(
        "service_configured environment=%s provider=%s database=%s",
        settings.environment,
        provider.name,
        engine.url.render_as_string(hide_password=True),
    )
    return app


def _recover_admissions_once(context: ServiceContext) -> None:
    settings = context.settings
    with context.session_factory() as session:
        results = recover_admissions(
            session,
            context.provider,
            now=context.clock(),
            timeout=timedelta(seconds=settings.admission_timeout_s),
        )
    if results:
        logger.info("admission_recovery_finished admissions=%d", len(results))


async def _recover_admissions_periodically(
    context: ServiceContext, stopping: asyncio.Event
) -> None:
    """Release interrupted entries at start-up and then every interval.

    Each run goes to a worker thread, because the payment calls block. The
    loop ends once ``stopping`` is set.
    """
    interval = context.settings.admission_recovery_interval_s
    while not stopping.is_set():
        try:
            await asyncio.to_thread(_recover_admissions_once, context)
        except Exception:
            logger.exception(
                "admission_recovery_run_failed; retrying in %.0f s", interval
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=interval)
