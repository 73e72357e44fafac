"""The live side of the service: the bus, and one fusion worker per store.

Ingestion commits each input, then publishes its id on the store's subject.
A process that runs fusion subscribes to every store's subject. A message
only wakes the store's worker, which then reads every stored input it has
not applied yet, so lost or repeated messages change nothing. The workers
also poll the database every ``poll_s``, which picks up inputs whose
message was lost and stores loaded after start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from walkout.db.models import Store
from walkout.payments.base import PaymentProvider

from .bus import Bus, Message, inputs_subject, subject_token
from .worker import StoreWorker

logger = logging.getLogger(__name__)

# Seconds to wait for the bus to take a message before logging a failure.
PUBLISH_TIMEOUT_S = 10.0


class LiveService:
    """Publishes stored inputs and, when ``run_fusion``, runs the store workers."""

    def __init__(
        self,
        bus: Bus,
        session_factory: sessionmaker[Session],
        provider: PaymentProvider,
        clock: Callable[[], datetime],
        *,
        run_fusion: bool,
        settle_margin_s: float,
        poll_s: float = 1.0,
    ) -> None:
        self.bus = bus
        self.session_factory = session_factory
        self.provider = provider
        self.clock = clock
        self.run_fusion = run_fusion
        self.settle_margin_s = settle_margin_s
        self.poll_s = poll_s
        self.workers: dict[str, StoreWorker] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect the bus and, when running fusion, rebuild and start every store."""
        self._loop = asyncio.get_running_loop()
        await self.bus.start()
        if not self.run_fusion:
            return
        await self._start_new_stores()
        self._poller = asyncio.create_task(self._poll(), name="live-poll")

    async def close(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
            self._poller = None
        await self.bus.close()
        self._loop = None

    # --- publishing -------------------------------------------------------

    async def publish(self, store_id: str, input_id: int) -> None:
        """Tell the store's fusion worker that input ``input_id`` is stored.

        The input is already committed, so a failed publish is logged and not
        raised: the workers' database poll picks the input up.
        """
        try:
            await asyncio.wait_for(
                self.bus.publish(inputs_subject(store_id), str(input_id).encode()),
                PUBLISH_TIMEOUT_S,
            )
        except Exception:
            logger.exception(
                "publish_failed store=%s input=%d; fusion will find it by polling",
                store_id,
                input_id,
            )

    def publish_from_thread(self, store_id: str, input_id: int) -> None:
        """Publish from a request's worker thread; a no-op before start-up."""
        loop = self._loop
        if loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(
            self.publish(store_id, input_id), loop
        )
        future.result(timeout=2 * PUBLISH_TIMEOUT_S)

    # --- fusion -----------------------------------------------------------

    async def _start_new_stores(self) -> None:
        with self.session_factory() as session:
            store_ids = list(session.scalars(select(Store.id).order_by(Store.id)))
        for store_id in store_ids:
            if store_id not in self.workers:
                await self._start_store(store_id)

    async def _start_store(self, store_id: str) -> None:
        worker = StoreWorker(
            store_id,
            self.session_factory,
            self.provider,
            self.clock,
            settle_margin_s=self.settle_margin_s,
        )
        self.workers[store_id] = worker
        self._locks[store_id] = asyncio.Lock()
        # Rebuild from every stored input: carts, stock and visits that
        # became ready while no worker ran.
        applied = await self.catch_up(store_id)
        logger.info(
            "store %s: fusion rebuilt from %d stored input(s)", store_id, applied
        )

        async def handle(message: Message) -> None:
            await self.catch_up(store_id)

        await self.bus.subscribe(
            inputs_subject(store_id), f"fusion-{subject_token(store_id)}", handle
        )

    async def catch_up(self, store_id: str) -> int:
        """Apply the store's new inputs on a worker thread; return how many."""
        worker = self.workers[store_id]
        async with self._locks[store_id]:
            return await asyncio.to_thread(worker.catch_up)

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await self._start_new_stores()
                for store_id in list(self.workers):
                    await self.catch_up(store_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("live poll failed; retrying in %.1f s", self.poll_s)
