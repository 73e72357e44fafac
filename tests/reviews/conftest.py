"""Fixtures of the review, dispute and return tests.

The app runs on the ledger provider (wrapped so that tests can make a call
fail) over SQLite and over a throwaway PostgreSQL database, and on the
Stripe provider against the fake Stripe server of the payment tests.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from review_support import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    STORE_DOCUMENT,
    FakeClock,
    FlakyProvider,
    Service,
    load_store,
    log_in,
    make_settings,
)

from pg import postgres_cluster, postgres_database_url
from walkout.db.migrate import upgrade
from walkout.db.session import build_engine, build_session_factory
from walkout.payments.ledger import LedgerProvider
from walkout.payments.stripe_provider import StripeProvider
from walkout.service.app import create_app

# The fake Stripe server lives beside the payment tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "payments"))

from fake_stripe import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe, serve

__all__ = ["postgres_cluster", "postgres_database_url"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any name lookup for a host other than loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK_HOSTS:
            raise AssertionError(f"review tests must not connect to {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"
    return str(request.getfixturevalue("postgres_database_url"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(database_url: str, clock: FakeClock) -> Iterator[Service]:
    """The service on the ledger provider with the corner store loaded."""
    upgrade(database_url)
    engine = build_engine(database_url)
    ledger = LedgerProvider(build_session_factory(engine))
    provider = FlakyProvider(ledger)
    app = create_app(make_settings(database_url), provider=provider, clock=clock)
    # Server errors come back as 500 responses, so that a test can retry.
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        load_store(client, admin, STORE_DOCUMENT)
        yield Service(app, client, provider, ledger, admin, clock)
    app.state.context.engine.dispose()
    engine.dispose()


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def stripe_service(
    tmp_path: Path, clock: FakeClock, fake_stripe_server: tuple[FakeStripe, str]
) -> Iterator[tuple[Service, FakeStripe]]:
    """The service on SQLite with the Stripe provider aimed at the fake."""
    fake, base_url = fake_stripe_server
    fake.reset()
    url = f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"
    upgrade(url)
    stripe = StripeProvider(
        TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        api_base=base_url,
        max_network_retries=0,
    )
    provider = FlakyProvider(stripe)
    app = create_app(make_settings(url), provider=provider, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        admin = log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        load_store(client, admin, STORE_DOCUMENT)
        yield Service(app, client, provider, None, admin, clock), fake
    app.state.context.engine.dispose()
