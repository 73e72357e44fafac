"""Fixtures of the live store tests: a migrated database, the app, a store, staff."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_fakes import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LiveClock,
    RecordingProvider,
    account_id,
    live_settings,
    log_in,
    sign_up,
    store_document,
)

from pg import postgres_cluster, postgres_database_url
from walkout.db.migrate import upgrade
from walkout.service.app import create_app

__all__ = ["postgres_cluster", "postgres_database_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def live_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'live.db'}"
    return str(request.getfixturevalue("postgres_database_url"))


@pytest.fixture
def live_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'live.db'}"


@pytest.fixture
def live_clock() -> LiveClock:
    return LiveClock()


@pytest.fixture
def live_provider() -> RecordingProvider:
    return RecordingProvider()


@pytest.fixture(scope="session")
def live_store_document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return store_document(tmp_path_factory.mktemp("live-store"))


def _client(
    url: str, clock: LiveClock, provider: RecordingProvider, **overrides: object
) -> Iterator[TestClient]:
    upgrade(url)
    app = create_app(live_settings(url, **overrides), provider=provider, clock=clock)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def live_client(
    live_sqlite_url: str, live_clock: LiveClock, live_provider: RecordingProvider
) -> Iterator[TestClient]:
    yield from _client(live_sqlite_url, live_clock, live_provider)


@pytest.fixture
def live_any_client(
    live_database_url: str, live_clock: LiveClock, live_provider: RecordingProvider
) -> Iterator[TestClient]:
    """The app on SQLite and on PostgreSQL."""
    yield from _client(live_database_url, live_clock, live_provider)


def _store(client: TestClient, document: dict[str, Any]) -> str:
    admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    response = client.post(
        "/stores", json={"document": document, "occupancy_limit": 20}, headers=admin
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _staff(client: TestClient, store_id: str, email: str) -> dict[str, str]:
    admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
    headers = sign_up(client, email, card=None)
    staff_id = account_id(client, headers)
    response = client.patch(
        f"/accounts/{staff_id}", json={"role": "staff"}, headers=admin
    )
    assert response.status_code == 200, response.text
    response = client.put(f"/stores/{store_id}/staff/{staff_id}", headers=admin)
    assert response.status_code == 204, response.text
    return log_in(client, email)


@pytest.fixture
def live_store_id(live_client: TestClient, live_store_document: dict[str, Any]) -> str:
    return _store(live_client, live_store_document)


@pytest.fixture
def live_gate(live_client: TestClient, live_store_id: str) -> dict[str, str]:
    """Auth headers of a staff account of the store: the gate and the sensors."""
    return _staff(live_client, live_store_id, "live-gate@example.com")


@pytest.fixture
def live_any_store_id(
    live_any_client: TestClient, live_store_document: dict[str, Any]
) -> str:
    return _store(live_any_client, live_store_document)


@pytest.fixture
def live_any_gate(
    live_any_client: TestClient, live_any_store_id: str
) -> dict[str, str]:
    return _staff(live_any_client, live_any_store_id, "live-gate@example.com")
