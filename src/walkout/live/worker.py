"""The fusion worker of one store: stored inputs in; carts, stock and receipts out.

``StoreWorker.catch_up`` applies the store's stored inputs that it has not
applied yet, in id order. After each input it writes what fusion decided:
the visits' carts (replaced as a whole), the shelf changes for inventory,
and the finished visits (settled, or handed to review). All writes are idempotent,
so a worker that starts from the first input after a restart rebuilds its
engine and repeats the writes without charging or counting anything twice.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from walkout.db.live_models import LiveInput
from walkout.db.models import Store, Visit
from walkout.fusion.decisions import DecidedEvent
from walkout.fusion.products import TAKE, sku_probabilities
from walkout.payments.base import PaymentProvider
from walkout.recording.model import ReceiptLine
from walkout.recording.model import Store as StoreLayout
from walkout.store.errors import StoreError
from walkout.store.gates import VisitStatus
from walkout.store.stores import parse_store_document
from walkout.store.visits import FusionLine, replace_fusion_cart, settle_visit

from .fusion import StepResult, StoreFusion, VisitOutcome, event_key

logger = logging.getLogger(__name__)

# Inputs read from the database per query while catching up.
READ_CHUNK = 200
# Positions kept with a review line: this long around the event (seconds).
POSITIONS_MARGIN_S = 2.0

Clock = Callable[[], datetime]


def _optional(module: str, name: str) -> Any:
    """Return ``module.name``, or None when that module is not installed."""
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


class StoreWorker:
    """Live fusion of one store, backed by its stored inputs."""

    def __init__(
        self,
        store_id: str,
        session_factory: sessionmaker[Session],
        provider: PaymentProvider,
        clock: Clock,
        *,
        settle_margin_s: float,
    ) -> None:
        self.store_id = store_id
        self.session_factory = session_factory
        self.provider = provider
        self.clock = clock
        self.settle_margin_s = settle_margin_s
        self.fusion: StoreFusion | None = None
        self.last_input_id = 0
        self._lock = threading.Lock()
        self._record_shelf_change = _optional(
            "walkout.store.inventory", "record_shelf_change"
        )
        self._open_visit_review = _optional(
            "walkout.store.reviews", "open_visit_review"
        )
        self._line_evidence = _optional("walkout.store.reviews", "LineEvidence")
        if self._record_shelf_change is None:
            logger.warning(
                "store %s: walkout.store.inventory.record_shelf_change is missing; "
                "shelf changes are not recorded",
                store_id,
            )

    def _layout(self, session: Session) -> StoreLayout:
        store = session.get(Store, self.store_id)
        if store is None:
            raise LookupError(f"store {self.store_id!r} not found")
        return parse_store_document(store.layout)

    def catch_up(self) -> int:
        """Apply and write every stored input not applied yet; return how many."""
        with self._lock:
            applied = 0
            with self.session_factory() as session:
                if self.fusion is None:
                    self.fusion = StoreFusion(
                        self._layout(session), settle_margin_s=self.settle_margin_s
                    )
                    logger.info("store %s: fusion worker started", self.store_id)
                # NOTE: on PostgreSQL, concurrent requests can commit ids out
                # of order, and an input committed after a higher id was read
                # is skipped.
                while True:
                    statement = (
                        select(LiveInput)
                        .where(
                            LiveInput.store_id == self.store_id,
                            LiveInput.id > self.last_input_id,
                        )
                        .order_by(LiveInput.id)
                        .limit(READ_CHUNK)
                    )
                    rows = list(session.scalars(statement))
                    if not rows:
                        break
                    for row in rows:
                        kind, payload, input_id = row.kind, row.payload, row.id
                        self.fusion.apply(kind, payload)
                        result = self.fusion.step()
                        self._write(session, self.fusion, result)
                        self.last_input_id = input_id
                        applied += 1
                    session.expire_all()
            return applied

    # --- writes -----------------------------------------------------------

    def _write(self, session: Session, fusion: StoreFusion, result: StepResult) -> None:
        now = self.clock()
        for decided in result.decided:
            self._record_stock(session, decided, now)
        for visit_id in sorted(result.changed_visits):
            visit = session.get(Visit, visit_id)
            if visit is None or visit.status == VisitStatus.SETTLED:
                continue
            replace_fusion_cart(
                session, visit_id, _fusion_lines(fusion.cart(visit_id).items), now=now
            )
        session.commit()
        for outcome in result.finished:
            self._finish(session, fusion, outcome)

    def _record_stock(
        self, session: Session, decided: DecidedEvent, now: datetime
    ) -> None:
        if self._record_shelf_change is None:
            return
        visit_id = decided.account if decided.account else None
        if visit_id is not None and session.get(Visit, visit_id) is None:
            visit_id = None
        delta = -decided.qty if decided.action == TAKE else decided.qty
        self._record_shelf_change(
            session,
            self.store_id,
            event_key=event_key(decided),
            plate=decided.plate,
            sku=decided.sku,
            delta_units=delta,
            visit_id=visit_id,
            staff=decided.staff,
            now=now,
        )

    def _finish(
        self, session: Session, fusion: StoreFusion, outcome: VisitOutcome
    ) -> None:
        """Store a finished visit's cart, then settle it or open its review."""
        now = self.clock()
        visit = session.get(Visit, outcome.visit_id)
        if visit is None:
            logger.warning(
                "store %s: finished visit %s is not in the database",
                self.store_id,
                outcome.visit_id,
            )
            return
        if visit.status in (VisitStatus.SETTLED, VisitStatus.IN_REVIEW):
            return
        if visit.status != VisitStatus.ENDED:
            logger.warning(
                "store %s: visit %s finished in fusion but has status %s",
                self.store_id,
                visit.id,
                visit.status,
            )
            return

        lines = outcome.receipt.items
        replace_fusion_cart(session, visit.id, _fusion_lines(lines), now=now)
        session.commit()

        doubtful = [line for line in lines if line.needs_review]
        if doubtful and not outcome.staff:
            try:
                self._open_review(session, fusion, visit, outcome, doubtful, now)
            except StoreError as error:
                session.rollback()
                logger.error(
                    "store %s: opening the review of visit %s failed: %s (%s)",
                    self.store_id,
                    visit.id,
                    error.message,
                    error.code,
                )
            return

        try:
            receipt = settle_visit(session, self.provider, visit, now=now)
        except StoreError as error:
            session.rollback()
            logger.error(
                "store %s: settling visit %s failed: %s (%s)",
                self.store_id,
                visit.id,
                error.message,
                error.code,
            )
            return
        logger.info(
            "store %s: visit %s settled by fusion, receipt %s total %s",
            self.store_id,
            visit.id,
            receipt.id,
            receipt.total,
        )

    def _open_review(
        self,
        session: Session,
        fusion: StoreFusion,
        visit: Visit,
        outcome: VisitOutcome,
        doubtful: list[ReceiptLine],
        now: datetime,
    ) -> None:
        if self._open_visit_review is None or self._line_evidence is None:
            logger.warning(
                "store %s: visit %s has %d line(s) to review, but "
                "walkout.store.reviews is missing; it stays ended for staff",
                self.store_id,
                visit.id,
                len(doubtful),
            )
            return
        evidence = [self._evidence(fusion, outcome, line) for line in doubtful]
        self._open_visit_review(session, visit, evidence, now=now)
        session.commit()
        logger.info(
            "store %s: visit %s sent to review with %d line(s)",
            self.store_id,
            visit.id,
            len(evidence),
        )

    def _evidence(
        self, fusion: StoreFusion, outcome: VisitOutcome, line: ReceiptLine
    ) -> Any:
        events = [
            event
            for event in outcome.events
            if event.sku == line.sku and event.review_reason is not None
        ] or [event for event in outcome.events if event.sku == line.sku]
        event = events[-1] if events else None
        evidence_class = self._line_evidence
        if event is None:
            return evidence_class(
                sku=line.sku,
                qty=line.qty,
                unit_price=line.unit_price,
                review_reason=line.review_reason or "",
                plate="",
                t_start=0.0,
                t_end=0.0,
                delta_g=0.0,
                product_candidates=[],
                shopper_candidates=[],
                trace=[],
                positions=[],
            )
        trace = fusion.trace_of(event)
        t_start = trace.t_start if trace else event.t
        t_end = trace.t_end if trace else event.t
        return evidence_class(
            sku=line.sku,
            qty=line.qty,
            unit_price=line.unit_price,
            review_reason=line.review_reason or event.review_reason or "",
            plate=event.plate,
            t_start=t_start,
            t_end=t_end,
            delta_g=event.delta_g,
            product_candidates=sorted(
                sku_probabilities(event.products).items(), key=lambda item: -item[1]
            ),
            shopper_candidates=[(a.account, a.p) for a in event.accounts],
            trace=[
                (plate, times, grams)
                for plate, (times, grams) in (trace.plates.items() if trace else [])
            ],
            positions=fusion.positions_near(
                event, t_start - POSITIONS_MARGIN_S, t_end + POSITIONS_MARGIN_S
            ),
        )


def _fusion_lines(items: list[ReceiptLine]) -> list[FusionLine]:
    return [
        FusionLine(
            sku=line.sku,
            qty=line.qty,
            unit_price=Decimal(line.unit_price),
            confidence=float(line.confidence),
            review_reason=line.review_reason,
        )
        for line in items
    ]
