"""Domain events, named in the past tense, stored in order in ``store_events``."""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from walkout.db.models import StoreEvent

logger = logging.getLogger(__name__)


class EventName(enum.StrEnum):
    STORE_LOADED = "store_loaded"
    ENTRY_PASS_ISSUED = "entry_pass_issued"
    ENTRY_REJECTED = "entry_rejected"
    SHOPPER_ENTERED = "shopper_entered"
    SHOPPER_EXITED = "shopper_exited"
    VISIT_ENDED = "visit_ended"
    ITEM_TAKEN = "item_taken"
    ITEM_RETURNED = "item_returned"
    RECEIPT_ISSUED = "receipt_issued"
    REVIEW_OPENED = "review_opened"
    REVIEW_LINE_DECIDED = "review_line_decided"
    REVIEW_DECIDED = "review_decided"
    REVIEW_SETTLE_FAILED = "review_settle_failed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_REJECTED = "dispute_rejected"
    RETURN_SCANNED = "return_scanned"
    REFUND_ISSUED = "refund_issued"
    REFUND_FAILED = "refund_failed"
    STOCK_COUNTED = "stock_counted"
    ALERT_OPENED = "alert_opened"
    ALERT_RESOLVED = "alert_resolved"
    ALERT_ACKNOWLEDGED = "alert_acknowledged"


def record_event(
    session: Session,
    name: EventName,
    *,
    store_id: str,
    now: datetime,
    visit_id: str | None = None,
    **data: Any,
) -> StoreEvent:
    """Add event ``name`` to the session (the caller commits) and log it."""
    event = StoreEvent(
        store_id=store_id,
        visit_id=visit_id,
        name=name.value,
        occurred_at=now,
        data=data,
    )
    session.add(event)
    logger.info(
        "%s store=%s visit=%s %s",
        name.value,
        store_id,
        visit_id or "-",
        " ".join(f"{key}={value}" for key, value in sorted(data.items())),
    )
    return event
