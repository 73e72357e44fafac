"""Fixtures of the inventory tests: the service app on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from inventory_helpers import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PASSWORD,
    SECRET,
    STORE_DOCUMENT,
    FakeClock,
    account_id,
    log_in,
    sign_up,
)
from sqlalchemy.orm import Session, sessionmaker

from pg import postgres_cluster, postgres_database_url
from walkout.db.migrate import upgrade
from walkout.service.app import create_app
from walkout.service.settings import Settings

__all__ = ["postgres_cluster", "postgres_database_url"]


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+pysqlite:///{tmp_path / 'walkout.db'}"
    else:
        url = str(request.getfixturevalue("postgres_database_url"))
    upgrade(url)
    return url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(database_url: str, clock: FakeClock) -> Iterator[TestClient]:
    settings = Settings.model_validate(
        {
            "environment": "test",
            "database_url": database_url,
            "secret_key": SECRET,
            "first_admin_email": ADMIN_EMAIL,
            "first_admin_password": ADMIN_PASSWORD,
        }
    )
    app = create_app(settings, clock=clock)
    with TestClient(app) as test_client:
        yield test_client
    app.state.context.engine.dispose()


@pytest.fixture
def session_factory(client: TestClient) -> sessionmaker[Session]:
    app = client.app
    assert isinstance(app, FastAPI)
    factory: sessionmaker[Session] = app.state.context.session_factory
    return factory


@pytest.fixture
def admin(client: TestClient) -> dict[str, str]:
    return log_in(client, ADMIN_EMAIL, ADMIN_PASSWORD)


@pytest.fixture
def store_id(client: TestClient, admin: dict[str, str]) -> str:
    response = client.post("/stores", json={"document": STORE_DOCUMENT}, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def staff(client: TestClient, admin: dict[str, str], store_id: str) -> dict[str, str]:
    """Auth headers of a staff account assigned to the test store."""
    headers = sign_up(client, "staff@example.com")
    staff_id = account_id(client, headers)
    response = client.patch(
        f"/accounts/{staff_id}", json={"role": "staff"}, headers=admin
    )
    assert response.status_code == 200, response.text
    response = client.put(f"/stores/{store_id}/staff/{staff_id}", headers=admin)
    assert response.status_code == 204, response.text
    return log_in(client, "staff@example.com", PASSWORD)


@pytest.fixture
def shopper(client: TestClient, store_id: str) -> dict[str, str]:
    return sign_up(client, "shopper@example.com")
