from __future__ import annotations

from fastapi.testclient import TestClient
from service_fakes import FakeProvider, sign_up

Headers = dict[str, str]


def admit_shopper(
    client: TestClient, staff: Headers, shopper: Headers, store_id: str, track: str
) -> str:
    """Admit the shopper on a one-person pass as ``track``; return the visit id."""
    issued = client.post(f"/stores/{store_id}/passes", json={}, headers=shopper).json()
    response = client.post(
        f"/stores/{store_id}/gate/entries",
        json={"pass_token": issued["token"], "track_ids": [track]},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    visit_id = str(response.json()["id"])
    return visit_id


def leave(client: TestClient, staff: Headers, store_id: str, track: str) -> None:
    response = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": track}, headers=staff
    )
    assert response.status_code == 200, response.text


def add_line(
    client: TestClient, staff: Headers, visit_id: str, sku: str, qty: int
) -> None:
    response = client.post(
        f"/visits/{visit_id}/cart-lines", json={"sku": sku, "qty": qty}, headers=staff
    )
    assert response.status_code == 201, response.text


def test_settle_captures_cart_total(
    client: TestClient, store_id: str, staff: Headers, provider: FakeProvider
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")
    add_line(client, staff, visit_id, "water", 3)
    add_line(client, staff, visit_id, "chips", 1)
    add_line(client, staff, visit_id, "water", -1)
    leave(client, staff, store_id, "p1")

    response = client.post(f"/visits/{visit_id}/settle", headers=staff)

    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["total"] == "5.25"
    assert receipt["payment_status"] == "captured"
    assert [
        (line["sku"], line["qty"], line["amount"]) for line in receipt["lines"]
    ] == [
        ("chips", 1, "2.25"),
        ("water", 2, "3.00"),
    ]
    assert provider.calls[-1] == f"capture visit-capture:{visit_id} 5.25"
    own = client.get("/receipts", headers=shopper).json()
    assert [row["id"] for row in own] == [receipt["id"]]


def test_settle_empty_cart_cancels_hold(
    client: TestClient, store_id: str, staff: Headers, provider: FakeProvider
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")
    leave(client, staff, store_id, "p1")

    receipt = client.post(f"/visits/{visit_id}/settle", headers=staff).json()

    assert receipt["total"] == "0.00"
    assert receipt["payment_status"] == "cancelled"
    assert receipt["lines"] == []
    assert provider.calls[-1] == f"cancel visit-cancel:{visit_id}"


def test_settle_requires_ended_visit_once(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")

    early = client.post(f"/visits/{visit_id}/settle", headers=staff)
    leave(client, staff, store_id, "p1")
    first = client.post(f"/visits/{visit_id}/settle", headers=staff)
    again = client.post(f"/visits/{visit_id}/settle", headers=staff)

    assert early.status_code == 409
    assert early.json()["error"]["code"] == "visit_not_ended"
    assert first.status_code == 201
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "visit_settled"


def test_cart_rejects_unknown_sku_and_excess_put_back(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")

    unknown = client.post(
        f"/visits/{visit_id}/cart-lines", json={"sku": "nope", "qty": 1}, headers=staff
    )
    put_back = client.post(
        f"/visits/{visit_id}/cart-lines",
        json={"sku": "water", "qty": -1},
        headers=staff,
    )

    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "product_not_found"
    assert put_back.status_code == 409
    assert put_back.json()["error"]["code"] == "put_back_exceeds_cart"


def test_total_above_hold_charged_separately(
    client: TestClient, store_id: str, staff: Headers, provider: FakeProvider
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")
    for _ in range(4):
        add_line(client, staff, visit_id, "water", 10)
    leave(client, staff, store_id, "p1")

    response = client.post(f"/visits/{visit_id}/settle", headers=staff)

    assert response.status_code == 201, response.text
    assert response.json()["total"] == "60.00"
    captures = [call for call in provider.calls if call.startswith("capture")]
    assert captures == [
        f"capture visit-capture:{visit_id} 50.00",
        f"capture visit-extra-capture:{visit_id} 10.00",
    ]


def test_shopper_cannot_read_other_receipts(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    ann = sign_up(client, "ann@example.com")
    bob = sign_up(client, "bob@example.com")
    visit_id = admit_shopper(client, staff, ann, store_id, "p1")
    add_line(client, staff, visit_id, "water", 1)
    leave(client, staff, store_id, "p1")
    receipt_id = client.post(f"/visits/{visit_id}/settle", headers=staff).json()["id"]

    by_owner = client.get(f"/receipts/{receipt_id}", headers=ann)
    by_other = client.get(f"/receipts/{receipt_id}", headers=bob)
    other_visit = client.get(f"/visits/{visit_id}", headers=bob)
    other_list = client.get("/receipts", headers=bob)

    assert by_owner.status_code == 200
    assert by_other.status_code == 404
    assert by_other.json()["error"]["code"] == "receipt_not_found"
    assert other_visit.status_code == 404
    assert other_list.json() == []


def test_staff_of_store_reads_receipt(
    client: TestClient, admin: Headers, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")
    leave(client, staff, store_id, "p1")
    receipt_id = client.post(f"/visits/{visit_id}/settle", headers=staff).json()["id"]

    by_staff = client.get(f"/receipts/{receipt_id}", headers=staff)
    by_admin = client.get(f"/receipts/{receipt_id}", headers=admin)

    assert by_staff.status_code == 200
    assert by_admin.status_code == 200


def test_shopper_cannot_change_own_cart(
    client: TestClient, store_id: str, staff: Headers
) -> None:
    shopper = sign_up(client, "ann@example.com")
    visit_id = admit_shopper(client, staff, shopper, store_id, "p1")

    response = client.post(
        f"/visits/{visit_id}/cart-lines",
        json={"sku": "water", "qty": -1},
        headers=shopper,
    )
    settle = client.post(f"/visits/{visit_id}/settle", headers=shopper)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_store_staff"
    assert settle.status_code == 403
