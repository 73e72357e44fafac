"""Fixtures of the payment tests: backends, the fake Stripe server, PostgreSQL.

Every test here may open sockets to 127.0.0.1 only: a guard fails any test
whose code resolves another host name, so the Stripe SDK cannot reach the
real Stripe API by accident.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fake_stripe import TEST_API_KEY, TEST_WEBHOOK_SECRET, FakeStripe, serve
from payment_backends import (
    LEDGER_TABLES,
    Backend,
    ledger_backend,
    ledger_session_factory,
)
from sqlalchemy.orm import Session, sessionmaker

from pg import (
    PostgresCluster,
    create_database,
    postgres_cluster,
    postgres_database_url,
)
from walkout.payments.stripe_provider import StripeProvider

__all__ = ["postgres_cluster", "postgres_database_url"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any name lookup for a host other than loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK_HOSTS:
            raise AssertionError(f"payment tests must not connect to {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


# Ledger databases.


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    # A file, not :memory:, so that threads in one test share the database.
    engine, factory = ledger_session_factory(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield factory
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_ledger(
    postgres_cluster: PostgresCluster,
) -> Iterator[tuple[sa.Engine, sessionmaker[Session]]]:
    url = create_database(postgres_cluster, "payments")
    engine, factory = ledger_session_factory(url)
    yield engine, factory
    engine.dispose()


@pytest.fixture
def postgres_sessions(
    postgres_ledger: tuple[sa.Engine, sessionmaker[Session]],
) -> sessionmaker[Session]:
    """Return sessions on the session's PostgreSQL ledger, emptied for this test."""
    engine, factory = postgres_ledger
    names = ", ".join(table.name for table in LEDGER_TABLES)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {names}"))
    return factory


# The fake Stripe API.


@pytest.fixture(scope="session")
def fake_stripe_server() -> Iterator[tuple[FakeStripe, str]]:
    fake = FakeStripe()
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def fake_stripe(fake_stripe_server: tuple[FakeStripe, str]) -> FakeStripe:
    fake, _ = fake_stripe_server
    fake.reset()
    return fake


@pytest.fixture
def stripe_provider(
    fake_stripe_server: tuple[FakeStripe, str], fake_stripe: FakeStripe
) -> StripeProvider:
    _, base_url = fake_stripe_server
    return StripeProvider(
        TEST_API_KEY,
        webhook_secret=TEST_WEBHOOK_SECRET,
        api_base=base_url,
        max_network_retries=0,
    )


# One provider per backend, for the contract tests.


@pytest.fixture(params=["ledger-sqlite", "ledger-postgres", "stripe-fake"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "ledger-sqlite":
        return ledger_backend(request.getfixturevalue("sqlite_sessions"))
    if request.param == "ledger-postgres":
        return ledger_backend(request.getfixturevalue("postgres_sessions"))

    fake: FakeStripe = request.getfixturevalue("fake_stripe")
    return Backend(
        provider=request.getfixturevalue("stripe_provider"),
        hold_attempts=lambda: len(fake.payment_intents),
        captures=lambda: len(fake.charges_of("capture")),
        refunds=lambda: len(fake.charges_of("refund")),
    )
