"""Fixtures of the end-to-end tests: the fake Stripe, PostgreSQL and nats-server.

The service under test runs as ``walkout serve`` subprocesses on 127.0.0.1,
and every name lookup in the test process is limited to loopback.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from natsd import nats_server
from pg import postgres_cluster, postgres_database_url

# The fake Stripe server lives beside the payment tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "payments"))

from fake_stripe import FakeStripe, serve

__all__ = ["nats_server", "postgres_cluster", "postgres_database_url"]

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any name lookup for a host other than loopback."""
    real_getaddrinfo = socket.getaddrinfo

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in LOOPBACK_HOSTS:
            raise AssertionError(f"end-to-end tests must not connect to {name!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)


@pytest.fixture(scope="session")
def e2e_stripe_server() -> Iterator[tuple[FakeStripe, str]]:
    """The fake Stripe API on a free port of 127.0.0.1, and its base URL."""
    fake = FakeStripe()
    with serve(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def e2e_stripe(e2e_stripe_server: tuple[FakeStripe, str]) -> tuple[FakeStripe, str]:
    fake, base_url = e2e_stripe_server
    fake.reset()
    return fake, base_url
