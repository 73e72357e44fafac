"""Settings, a store document and request helpers of the service tests."""

from __future__ import annotations

from fastapi.testclient import TestClient

from payment_doubles import DECLINED_TOKEN as DECLINED_TOKEN
from payment_doubles import FakeClock as FakeClock
from payment_doubles import FakeProvider as FakeProvider
from walkout.service.settings import Settings

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "correct-horse-battery"

STORE_DOCUMENT = {
    "format": "walkout-recording/1",
    "store": {"id": "corner", "name": "Corner Store", "currency": "USD"},
    "products": [
        {
            "sku": "water",
            "name": "Water 0.5 l",
            "price": "1.50",
            "unit_weight_g": 530.0,
        },
        {"sku": "chips", "name": "Chips", "price": "2.25", "unit_weight_g": 120.0},
    ],
    "plates": [
        {
            "id": "1.1.1",
            "gondola": 1,
            "shelf": 1,
            "plate": 1,
            "center": [0.5, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
        {
            "id": "1.1.2",
            "gondola": 1,
            "shelf": 1,
            "plate": 2,
            "center": [0.6, 0.5, 1.0],
            "size": [0.1, 0.4],
        },
    ],
    "planogram": [
        {"sku": "water", "plates": ["1.1.1"], "qty": 6},
        {"sku": "chips", "plates": ["1.1.2"], "qty": 4},
    ],
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def sign_up(
    client: TestClient, email: str, *, card: str | None = "tok_visa"
) -> dict[str, str]:
    """Create a shopper, attach ``card`` unless None, and return auth headers."""
    response = client.post("/auth/signup", json={"email": email, "password": PASSWORD})
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


SECRET = "test-secret-key-with-enough-length-0123456789"


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "first_admin_email": ADMIN_EMAIL,
        "first_admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return Settings.model_validate(values)
