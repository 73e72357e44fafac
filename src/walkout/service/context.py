"""What the app factory builds once and every request shares."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from walkout.live.service import LiveService
from walkout.payments.base import PaymentProvider
from walkout.service.settings import Settings

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ServiceContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    provider: PaymentProvider
    clock: Clock
    live: LiveService
