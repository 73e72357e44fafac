from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from service_fakes import (
    PASSWORD,
    STORE_DOCUMENT,
    FakeClock,
    account_id,
    log_in,
    sign_up,
)

from walkout.service.tokens import issue_access_token


def test_signup_creates_shopper(client: TestClient) -> None:
    response = client.post(
        "/auth/signup", json={"email": " Ann@Example.com", "password": PASSWORD}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ann@example.com"
    assert body["role"] == "shopper"
    assert body["card"] is None
    assert "password" not in response.text


def test_signup_rejects_taken_email(client: TestClient) -> None:
    sign_up(client, "ann@example.com")

    response = client.post(
        "/auth/signup", json={"email": "ANN@example.com", "password": PASSWORD}
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "email_taken"


def test_signup_rejects_short_password(client: TestClient) -> None:
    response = client.post(
        "/auth/signup", json={"email": "ann@example.com", "password": "tiny-pw"}
    )

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "tiny-pw" not in response.text


def test_login_issues_bearer_token(client: TestClient) -> None:
    headers = sign_up(client, "ann@example.com", card=None)

    response = client.get("/accounts/me", headers=headers)

    assert response.status_code == 200
    assert response.json()["email"] == "ann@example.com"


def test_login_rejects_wrong_password(client: TestClient) -> None:
    sign_up(client, "ann@example.com", card=None)

    wrong = client.post(
        "/auth/token", data={"username": "ann@example.com", "password": "x" * 12}
    )
    unknown = client.post(
        "/auth/token", data={"username": "bob@example.com", "password": PASSWORD}
    )

    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_credentials"
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "invalid_credentials"


def test_request_without_token_is_unauthorised(client: TestClient) -> None:
    response = client.get("/accounts/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"


def test_forged_token_is_unauthorised(client: TestClient) -> None:
    headers = sign_up(client, "ann@example.com", card=None)
    forged = issue_access_token(
        account_id(client, headers),
        secret_key="another-secret-key-of-sufficient-length",
        lifetime=timedelta(minutes=5),
        now=datetime.now(UTC),
    )

    response = client.get("/accounts/me", headers={"Authorization": f"Bearer {forged}"})

    assert response.status_code == 401


def test_token_expires_on_service_clock(client: TestClient, clock: FakeClock) -> None:
    headers = sign_up(client, "ann@example.com", card=None)

    clock.advance(61 * 60)
    response = client.get("/accounts/me", headers=headers)

    assert response.status_code == 401
    assert "expired" in response.json()["error"]["message"]


def test_card_on_file_shows_brand_and_last4(client: TestClient) -> None:
    headers = sign_up(client, "ann@example.com")

    card = client.get("/accounts/me", headers=headers).json()["card"]

    assert card == {"brand": "visa", "last4": "4242"}


def test_card_with_invalid_token_fails(client: TestClient) -> None:
    headers = sign_up(client, "ann@example.com", card=None)

    response = client.put("/accounts/me/card", json={"token": "bogus"}, headers=headers)

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "invalid_card_token"


def test_shopper_cannot_use_admin_endpoints(client: TestClient) -> None:
    headers = sign_up(client, "ann@example.com", card=None)
    me = account_id(client, headers)

    create = client.post("/stores", json={"document": STORE_DOCUMENT}, headers=headers)
    promote = client.patch(f"/accounts/{me}", json={"role": "admin"}, headers=headers)
    listing = client.get("/accounts", headers=headers)

    for response in (create, promote, listing):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "role_forbidden"


def test_admin_changes_role(client: TestClient, admin: dict[str, str]) -> None:
    headers = sign_up(client, "ann@example.com", card=None)
    ann = account_id(client, headers)

    response = client.patch(
        f"/accounts/{ann}", json={"role": "reviewer"}, headers=admin
    )

    assert response.status_code == 200
    assert response.json()["role"] == "reviewer"
    assert (
        client.get("/accounts/me", headers=log_in(client, "ann@example.com")).json()[
            "role"
        ]
        == "reviewer"
    )


def test_staff_role_required_for_assignment(
    client: TestClient, admin: dict[str, str], store_id: str
) -> None:
    headers = sign_up(client, "ann@example.com", card=None)
    ann = account_id(client, headers)

    response = client.put(f"/stores/{store_id}/staff/{ann}", headers=admin)

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "not_staff_role"
