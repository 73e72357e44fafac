from __future__ import annotations

import base64
from typing import Any

import pytest
from fastapi.testclient import TestClient
from service_fakes import (
    DECLINED_TOKEN,
    STORE_DOCUMENT,
    FakeClock,
    FakeProvider,
    sign_up,
)

Headers = dict[str, str]


def request_pass(
    client: TestClient, headers: Headers, store_id: str, party_size: int = 1
) -> dict[str, Any]:
    response = client.post(
        f"/stores/{store_id}/passes", json={"party_size": party_size}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def enter(
    client: TestClient, staff: Headers, store_id: str, token: str, tracks: list[str]
) -> Any:
    return client.post(
        f"/stores/{store_id}/gate/entries",
        json={"pass_token": token, "track_ids": tracks},
        headers=staff,
    )


def test_pass_has_token_and_qr_png(
    client: TestClient, store_id: str, clock: FakeClock
) -> None:
    shopper = sign_up(client, "ann@example.com")

    issued = request_pass(client, shopper, store_id, party_size=2)

    assert issued["party_size"] == 2
    assert issued["token"].count(".") == 2
    png = base64.b64decode(issued["qr_png_base64"])
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert issued["expires_at"].startswith("2026-05-04T09:01:00")


def test_pass_requires_card_on_file(client: TestClient, store_id: str) -> None:
    shopper = sign_up(client, "ann@example.com", card=None)

    response = client.post(f"/stores/{store_id}/passes", json={}, headers=shopper)

    assert response.status_code == 402
    assert response.json()["error"]["code"] == "payment_method_missing"


def test_pass_rejects_party_above_maximum(client: TestClient, store_id: str) -> None:
    shopper = sign_up(client, "ann@example.com")

    response = client.post(
        f"/stores/{store_id}/passes", json={"party_size": 7}, headers=shopper
    )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "party_size_out_of_range"


def test_gate_admits_party_and_binds_tracks(
    client: TestClient, store_id: str, staff: Headers, provider: FakeProvider
) -> None:
    shopper = sign_up(client, "ann@example.com")
    issued = request_pass(client, shopper, store_id, party_size=2)

    response = enter(client, staff, store_id, issued["token"], ["p1", "p2"])

    assert response.status_code == 201, response.text
    visit = response.json()
    assert visit["status"] == "inside"
    assert visit["party_size"] == 2
    assert [track["track_id"] for track in visit["tracks"]] == ["p1", "p2"]
    assert visit["hold_amount"] == "50.00"
    assert provider.calls == [f"hold entry-hold:{issued['id']} 50.00"]
    own = client.get("/visits", headers=shopper).json()
    assert [row["id"] for row in own] == [visit["id"]]


def test_gate_pass_is_single_use(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, store_id)["token"]
    assert enter(client, staff, store_id, token, ["p1"]).status_code == 201

    again = enter(client, staff, store_id, token, ["p9"])

    assert again.status_code == 403
    assert again.json()["error"]["code"] == "pass_already_used"


def test_gate_rejects_expired_pass(
    client: TestClient, store_id: str, staff: Headers, clock: FakeClock
) -> None:
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, store_id)["token"]

    clock.advance(60)
    response = enter(client, staff, store_id, token, ["p1"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "pass_expired"


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-token", "pass_invalid"),
        ("eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "pass_invalid"),
    ],
)
def test_gate_rejects_malformed_pass(
    client: TestClient, store_id: str, staff: Headers, token: str, code: str
) -> None:
    response = enter(client, staff, store_id, token, ["p1"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == code


def test_gate_rejects_pass_of_other_store(
    client: TestClient, admin: Headers, store_id: str, staff: Headers
) -> None:
    other = {
        **STORE_DOCUMENT,
        "store": {"id": "other", "name": "Other", "currency": "USD"},
    }
    assert (
        client.post("/stores", json={"document": other}, headers=admin).status_code
        == 201
    )
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, "other")["token"]

    response = enter(client, staff, store_id, token, ["p1"])

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "pass_wrong_store"


def test_gate_requires_one_track_per_person(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, store_id, party_size=2)["token"]

    short = enter(client, staff, store_id, token, ["p1"])
    admitted = enter(client, staff, store_id, token, ["p1", "p2"])

    assert short.status_code == 422
    assert short.json()["error"]["code"] == "party_size_mismatch"
    assert admitted.status_code == 201


def test_gate_enforces_occupancy_limit(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    ann = sign_up(client, "ann@example.com")
    bob = sign_up(client, "bob@example.com")
    first = request_pass(client, ann, store_id, party_size=2)["token"]
    second = request_pass(client, bob, store_id, party_size=2)["token"]
    assert enter(client, staff, store_id, first, ["p1", "p2"]).status_code == 201

    full = enter(client, staff, store_id, second, ["p3", "p4"])

    assert full.status_code == 409
    assert full.json()["error"]["code"] == "store_full"
    occupancy = client.get(f"/stores/{store_id}/occupancy", headers=staff).json()
    assert occupancy == {"store_id": store_id, "people_inside": 2, "occupancy_limit": 3}

    exit_response = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": "p1"}, headers=staff
    )
    assert exit_response.status_code == 200
    assert enter(client, staff, store_id, second, ["p3", "p4"]).status_code == 201


def test_gate_rejects_track_already_inside(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    ann = sign_up(client, "ann@example.com")
    bob = sign_up(client, "bob@example.com")
    assert (
        enter(
            client,
            staff,
            store_id,
            request_pass(client, ann, store_id)["token"],
            ["p1"],
        ).status_code
        == 201
    )

    response = enter(
        client, staff, store_id, request_pass(client, bob, store_id)["token"], ["p1"]
    )

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "track_already_inside"


def test_declined_card_keeps_gate_shut(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com", card=DECLINED_TOKEN)
    token = request_pass(client, shopper, store_id)["token"]

    declined = enter(client, staff, store_id, token, ["p1"])
    retried = enter(client, staff, store_id, token, ["p1"])

    assert declined.status_code == 402
    assert declined.json()["error"]["code"] == "card_declined"
    assert retried.status_code == 403
    assert retried.json()["error"]["code"] == "pass_already_used"
    assert client.get("/visits", headers=shopper).json() == []
    occupancy = client.get(f"/stores/{store_id}/occupancy", headers=staff).json()
    assert occupancy["people_inside"] == 0


def test_gate_requires_staff_of_that_store(
    client: TestClient, admin: Headers, store_id: str, staff: Headers
) -> None:
    other = {
        **STORE_DOCUMENT,
        "store": {"id": "other", "name": "Other", "currency": "USD"},
    }
    assert (
        client.post("/stores", json={"document": other}, headers=admin).status_code
        == 201
    )
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, "other")["token"]

    by_shopper = enter(client, shopper, "other", token, ["p1"])
    by_other_staff = enter(client, staff, "other", token, ["p1"])
    by_admin = enter(client, admin, "other", token, ["p1"])

    assert by_shopper.status_code == 403
    assert by_shopper.json()["error"]["code"] == "not_store_staff"
    assert by_other_staff.status_code == 403
    assert by_other_staff.json()["error"]["code"] == "not_store_staff"
    assert by_admin.status_code == 201


def test_exit_ends_visit_with_last_track(
    client: TestClient, store_id: str, staff: Headers, clock: FakeClock
) -> None:
    shopper = sign_up(client, "ann@example.com")
    token = request_pass(client, shopper, store_id, party_size=2)["token"]
    visit_id = enter(client, staff, store_id, token, ["p1", "p2"]).json()["id"]

    clock.advance(300)
    first = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": "p1"}, headers=staff
    )
    second = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": "p2"}, headers=staff
    )
    unknown = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": "p2"}, headers=staff
    )

    assert first.json() == {
        "visit_id": visit_id,
        "track_id": "p1",
        "visit_ended": False,
    }
    assert second.json() == {
        "visit_id": visit_id,
        "track_id": "p2",
        "visit_ended": True,
    }
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "track_not_inside"
    visit = client.get(f"/visits/{visit_id}", headers=shopper).json()
    assert visit["status"] == "ended"
    assert visit["ended_at"].startswith("2026-05-04T09:05:00")
