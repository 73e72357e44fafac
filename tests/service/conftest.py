"""Fixtures of the store service tests: a migrated database, the app, a client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fakes import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PASSWORD,
    STORE_DOCUMENT,
    FakeClock,
    FakeProvider,
    account_id,
    log_in,
    make_settings,
    sign_up,
)

from pg import postgres_cluster, postgres_database_url  # noqa: F401
from walkout.db.migrate import upgrade
from walkout.service.app import create_app


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"


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
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def client(
    sqlite_url: str, clock: FakeClock, provider: FakeProvider
) -> Iterator[TestClient]:
    upgrade(sqlite_url)
    app = create_app(make_settings(sqlite_url), provider=provider, clock=clock)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def store_id(client: TestClient, admin: dict[str, str]) -> str:
    response = client.post(
        "/stores",
        json={"document": STORE_DOCUMENT, "occupancy_limit": 3},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def staff(client: TestClient, admin: dict[str, str], store_id: str) -> dict[str, str]:
    """Auth headers of a staff account assigned to the test store (the gate)."""
    headers = sign_up(client, "gate@example.com", card=None)
    staff_id = account_id(client, headers)
    response = client.patch(
        f"/accounts/{staff_id}", json={"role": "staff"}, headers=admin
    )
    assert response.status_code == 200, response.text
    response = client.put(f"/stores/{store_id}/staff/{staff_id}", headers=admin)
    assert response.status_code == 204, response.text
    return log_in(client, "gate@example.com", PASSWORD)
