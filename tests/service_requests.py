"""Accounts, settings and signed-in requests shared by the service test suites."""

from __future__ import annotations

from typing import Any

from walkout.service.settings import Settings

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "admin-password-1"
PASSWORD = "correct-horse-battery"
SECRET = "test-secret-key-with-enough-length-0123456789"


def make_settings(database_url: str, **overrides: object) -> Settings:
    """Return test settings on ``database_url`` with the first admin account."""
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "first_admin_email": ADMIN_EMAIL,
        "first_admin_password": ADMIN_PASSWORD,
    }
    values.update(overrides)
    return Settings.model_validate(values)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: Any, email: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post(
        "/auth/token", data={"username": email, "password": password}
    )
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


def sign_up(
    client: Any, email: str, *, card: str | None = "tok_visa"
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


def account_id(client: Any, headers: dict[str, str]) -> str:
    return str(client.get("/accounts/me", headers=headers).json()["id"])
