"""A small store for the inventory tests, a settable clock and request helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

import service_requests
from service_requests import ADMIN_EMAIL as ADMIN_EMAIL
from service_requests import ADMIN_PASSWORD as ADMIN_PASSWORD
from service_requests import PASSWORD as PASSWORD
from service_requests import SECRET as SECRET
from service_requests import account_id as account_id
from service_requests import bearer as bearer
from service_requests import log_in as log_in

STORE_ID = "corner"

# Plate 1.1.1 carries water and gum, soap spans plates 1.1.3 and 1.1.4, and gum
# has no qty, so its units stay unknown until counted.
STORE_DOCUMENT: dict[str, Any] = {
    "format": "walkout-recording/1",
    "store": {"id": STORE_ID, "name": "Corner Store", "currency": "USD"},
    "products": [
        {
            "sku": "water",
            "name": "Water 0.5 l",
            "price": "1.50",
            "unit_weight_g": 530.0,
            "low_stock_units": 3,
        },
        {"sku": "chips", "name": "Chips", "price": "2.25", "unit_weight_g": 120.0},
        {"sku": "soap", "name": "Soap", "price": "3.00", "unit_weight_g": 250.0},
        {"sku": "gum", "name": "Gum", "price": "0.99", "unit_weight_g": 30.0},
    ],
    "plates": [
        {
            "id": f"1.1.{number}",
            "gondola": 1,
            "shelf": 1,
            "plate": number,
            "center": [0.4 + 0.1 * number, 0.5, 1.0],
            "size": [0.1, 0.4],
        }
        for number in range(1, 5)
    ],
    "planogram": [
        {"sku": "water", "plates": ["1.1.1"], "qty": 6},
        {"sku": "gum", "plates": ["1.1.1"]},
        {"sku": "chips", "plates": ["1.1.2"], "qty": 4},
        {"sku": "soap", "plates": ["1.1.3", "1.1.4"], "qty": 5},
    ],
}


@dataclass
class FakeClock:
    now: datetime = field(
        default_factory=lambda: datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    )

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def sign_up(client: TestClient, email: str) -> dict[str, str]:
    """Create a shopper with no card and return auth headers."""
    return service_requests.sign_up(client, email, card=None)


def stock_by_plate(client: TestClient, headers: dict[str, str]) -> dict[str, int]:
    """Return ``{"plate/sku": units}`` from ``GET /stores/{id}/inventory``."""
    response = client.get(f"/stores/{STORE_ID}/inventory", headers=headers)
    assert response.status_code == 200, response.text
    return {f"{row['plate']}/{row['sku']}": row["units"] for row in response.json()}


def open_alerts(client: TestClient, headers: dict[str, str]) -> set[str]:
    """Return the open alerts as ``"kind plate sku"`` strings."""
    response = client.get(f"/stores/{STORE_ID}/alerts", headers=headers)
    assert response.status_code == 200, response.text
    return {
        f"{alert['kind']} {alert['plate'] or '-'} {alert['sku']}"
        for alert in response.json()
    }
