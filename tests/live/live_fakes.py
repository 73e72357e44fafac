"""A payment provider that records its calls, a settable clock and HTTP helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from payment_doubles import FakeClock, FakeProvider
from walkout.service.settings import Settings
from walkout.sim import simulate_to

LIVE_ADMIN_EMAIL = "live-admin@example.com"
LIVE_ADMIN_PASSWORD = "live-admin-password-1"
LIVE_PASSWORD = "correct-horse-battery-live"

LIVE_SECRET = "live-test-secret-key-with-enough-length-0123"


def live_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": LIVE_SECRET,
        "first_admin_email": LIVE_ADMIN_EMAIL,
        "first_admin_password": LIVE_ADMIN_PASSWORD,
        "visit_events_poll_s": 0.05,
    }
    values.update(overrides)
    return Settings.model_validate(values)


# The live tests' names for the shared doubles.
LiveClock = FakeClock
RecordingProvider = FakeProvider


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: Any, email: str, password: str = LIVE_PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def sign_up(
    client: Any, email: str, *, card: str | None = "tok_visa"
) -> dict[str, str]:
    """Create a shopper, attach ``card`` unless None, and return auth headers."""
    response = client.post(
        "/auth/signup", json={"email": email, "password": LIVE_PASSWORD}
    )
    assert response.status_code == 201, response.text
    headers = log_in(client, email)
    if card is not None:
        response = client.put(
            "/accounts/me/card", json={"token": card}, headers=headers
        )
        assert response.status_code == 200, response.text
    return headers


def account_id(client: TestClient, headers: dict[str, str]) -> str:
    return str(client.get("/accounts/me", headers=headers).json()["id"])


def store_document(tmp_path: Path) -> dict[str, Any]:
    """Return the built-in store's store.json document."""
    out = tmp_path / "store-doc"
    simulate_to(out, "single", 1)
    document: dict[str, Any] = json.loads((out / "store.json").read_text())
    return document


def enter(
    client: Any,
    store_id: str,
    gate: dict[str, str],
    shopper: dict[str, str],
    tracks: list[str],
    t: float,
) -> dict[str, Any]:
    """Request a pass for ``shopper`` and admit ``tracks`` at sensor time ``t``."""
    response = client.post(
        f"/stores/{store_id}/passes", json={"party_size": len(tracks)}, headers=shopper
    )
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    response = client.post(
        f"/stores/{store_id}/gate/entries",
        json={"pass_token": token, "track_ids": tracks, "t": t},
        headers=gate,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body
