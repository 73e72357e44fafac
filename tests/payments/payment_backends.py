"""Payment backends under test: a provider and counters of what its store recorded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from walkout.db.base import Base
from walkout.db.session import build_engine, build_session_factory
from walkout.payments.base import PaymentProvider
from walkout.payments.ledger import LedgerProvider
from walkout.payments.ledger_models import (
    PaymentCustomerRow,
    PaymentHoldRow,
    PaymentIdempotencyRow,
    PaymentMethodRow,
    PaymentRefundRow,
)

LEDGER_TABLES = [
    Base.metadata.tables[model.__tablename__]
    for model in (
        PaymentCustomerRow,
        PaymentMethodRow,
        PaymentHoldRow,
        PaymentRefundRow,
        PaymentIdempotencyRow,
    )
]


def ledger_session_factory(url: str) -> tuple[sa.Engine, sessionmaker[Session]]:
    engine = build_engine(url)
    Base.metadata.create_all(engine, tables=LEDGER_TABLES)
    return engine, build_session_factory(engine)


@dataclass
class Backend:
    """A provider and counters of the money movements its store recorded."""

    provider: PaymentProvider
    hold_attempts: Callable[[], int]
    captures: Callable[[], int]
    refunds: Callable[[], int]


def _count(factory: sessionmaker[Session], statement: Any) -> int:
    with factory() as session:
        return int(session.execute(statement).scalar_one())


def ledger_backend(factory: sessionmaker[Session]) -> Backend:
    count = sa.func.count()
    return Backend(
        provider=LedgerProvider(factory),
        hold_attempts=lambda: _count(
            factory, sa.select(count).select_from(PaymentHoldRow)
        ),
        captures=lambda: _count(
            factory,
            sa.select(count)
            .select_from(PaymentHoldRow)
            .where(PaymentHoldRow.captured_minor > 0),
        ),
        refunds=lambda: _count(factory, sa.select(count).select_from(PaymentRefundRow)),
    )
