"""A payment provider that records its calls, a settable clock and HTTP helpers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from payment_doubles import FakeClock, FakeProvider
from service_requests import account_id as account_id
from service_requests import bearer as bearer
from service_requests import log_in as log_in
from service_requests import sign_up as sign_up
from walkout.service.settings import Settings
from walkout.sim import simulate_to

LIVE_ADMIN_EMAIL = "live-admin@example.com"
LIVE_ADMIN_PASSWORD = "live-admin-password-1"

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
