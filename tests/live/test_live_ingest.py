"""Sensor batches: validated, stored before the response, retries stored once."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from live_fakes import (
    LIVE_ADMIN_EMAIL,
    LIVE_ADMIN_PASSWORD,
    LiveClock,
    RecordingProvider,
    enter,
    live_settings,
    log_in,
    sign_up,
)
from starlette.websockets import WebSocketDisconnect

from walkout.db.live_models import LiveInput
from walkout.db.migrate import upgrade
from walkout.service.app import create_app


def batch(batch_id: str, **streams: Any) -> dict[str, Any]:
    return {"batch_id": batch_id, **streams}


def weights(t: list[float], plate: list[str], g: list[float]) -> dict[str, Any]:
    return {"t": t, "plate": plate, "g": g}


def poses(**overrides: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {
        "t": [1.0, 1.0],
        "track": ["p1", "p1"],
        "joint": ["head", "left_wrist"],
        "x": [1.0, 1.1],
        "y": [0.5, 0.6],
        "z": [1.7, 1.1],
        "score": [0.9, 0.8],
    }
    rows.update(overrides)
    return rows


def vision(sku: str, **overrides: Any) -> dict[str, Any]:
    rows: dict[str, Any] = {
        "t": [1.0],
        "track": ["p1"],
        "hand": ["right"],
        "sku": [sku],
        "p": [0.9],
    }
    rows.update(overrides)
    return rows


def stored_inputs(client: TestClient, store_id: str) -> int:
    context = client.app.state.context  # type: ignore[attr-defined]
    with context.session_factory() as session:
        count = session.scalar(
            sa.select(sa.func.count(LiveInput.id)).where(
                LiveInput.store_id == store_id, LiveInput.kind == "sensors"
            )
        )
    return int(count or 0)


def first_plate(document: dict[str, Any]) -> str:
    return str(document["plates"][0]["id"])


def first_sku(document: dict[str, Any]) -> str:
    return str(document["products"][0]["sku"])


def test_batch_stored_and_acknowledged(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    body = batch(
        "gw-1:1",
        weights=weights([0.0, 0.02], [plate, plate], [1000.0, 1000.5]),
        poses=poses(),
        vision=vision(first_sku(live_store_document)),
    )
    url = f"/stores/{live_any_store_id}/sensors/batches"

    response = live_any_client.post(url, json=body, headers=live_any_gate)

    assert response.status_code == 201, response.text
    ack = response.json()
    assert ack["batch_id"] == "gw-1:1"
    assert ack["duplicate"] is False
    assert (ack["weights"], ack["poses"], ack["vision"]) == (2, 2, 1)
    assert stored_inputs(live_any_client, live_any_store_id) == 1


def test_retried_batch_stored_once(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    body = batch("gw-1:7", weights=weights([5.0], [plate], [10.0]))
    url = f"/stores/{live_any_store_id}/sensors/batches"

    first = live_any_client.post(url, json=body, headers=live_any_gate)
    again = live_any_client.post(url, json=body, headers=live_any_gate)

    assert first.status_code == 201, first.text
    assert again.status_code == 200, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["input_id"] == first.json()["input_id"]
    assert stored_inputs(live_any_client, live_any_store_id) == 1


def test_batch_id_reused_for_other_rows_rejected(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    url = f"/stores/{live_any_store_id}/sensors/batches"
    first = batch("gw-1:8", weights=weights([5.0], [plate], [10.0]))
    other = batch("gw-1:8", weights=weights([6.0], [plate], [12.0]))

    stored = live_any_client.post(url, json=first, headers=live_any_gate)
    reused = live_any_client.post(url, json=other, headers=live_any_gate)

    assert stored.status_code == 201, stored.text
    assert reused.status_code == 409, reused.text
    assert reused.json()["error"]["code"] == "batch_id_reused"
    assert "gw-1:8" in reused.json()["error"]["message"]
    assert stored_inputs(live_any_client, live_any_store_id) == 1


def test_time_going_back_across_batches_rejected(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    url = f"/stores/{live_any_store_id}/sensors/batches"
    response = live_any_client.post(
        url,
        json=batch("a", weights=weights([5.0], [plate], [1.0])),
        headers=live_any_gate,
    )
    assert response.status_code == 201, response.text

    response = live_any_client.post(
        url,
        json=batch("b", weights=weights([4.0], [plate], [1.0])),
        headers=live_any_gate,
    )

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert "weights.t[0] = 4.0" in message
    assert plate in message
    assert stored_inputs(live_any_client, live_any_store_id) == 1


def test_reading_dated_ahead_rejected(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: dict[str, str],
    live_store_document: dict[str, Any],
    live_clock: LiveClock,
) -> None:
    plates = [str(plate["id"]) for plate in live_store_document["plates"][:2]]
    url = f"/stores/{live_any_store_id}/sensors/batches"

    def send(batch_id: str, t: float, plate: str) -> Any:
        body = batch(batch_id, weights=weights([t], [plate], [100.0]))
        return live_any_client.post(url, json=body, headers=live_any_gate)

    assert send("a", 10.0, plates[0]).status_code == 201
    live_clock.advance(5.0)

    # 95 s of sensor time after 5 s of wall time is a clock running ahead.
    ahead = send("b", 105.0, plates[1])
    assert ahead.status_code == 422, ahead.text
    message = ahead.json()["error"]["message"]
    assert "weights.t[0] = 105.0" in message
    assert plates[1] in message
    assert "ahead" in message

    # The rejected reading did not move the plate's clock.
    assert send("c", 15.5, plates[1]).status_code == 201
    # A plate back after a long silence is not ahead, because wall time
    # passed too.
    live_clock.advance(300.0)
    assert send("d", 316.0, plates[0]).status_code == 201
    assert stored_inputs(live_any_client, live_any_store_id) == 3


def test_reading_lead_follows_setting(
    live_sqlite_url: str,
    live_clock: LiveClock,
    live_provider: RecordingProvider,
    live_store_document: dict[str, Any],
) -> None:
    upgrade(live_sqlite_url)
    settings = live_settings(live_sqlite_url, max_reading_lead_s=200.0)
    app = create_app(settings, provider=live_provider, clock=live_clock)
    plate = first_plate(live_store_document)
    with TestClient(app) as client:
        admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
        created = client.post(
            "/stores", json={"document": live_store_document}, headers=admin
        )
        url = f"/stores/{created.json()['id']}/sensors/batches"

        def send(batch_id: str, t: float) -> Any:
            body = batch(batch_id, weights=weights([t], [plate], [1.0]))
            return client.post(url, json=body, headers=admin)

        stored = send("a", 10.0)
        within = send("b", 150.0)
        beyond = send("c", 400.0)

    assert stored.status_code == 201, stored.text
    assert within.status_code == 201, within.text
    assert beyond.status_code == 422, beyond.text
    assert "at most 200 s" in beyond.json()["error"]["message"]


BAD_BATCHES = [
    (
        "unknown plate",
        lambda plate, sku: {"weights": weights([1.0], ["9.9.9"], [1.0])},
        "weights.plate[0] = '9.9.9'",
    ),
    (
        "time back in batch",
        lambda plate, sku: {"weights": weights([2.0, 1.0], [plate, plate], [1.0, 1.0])},
        "weights.t[1] = 1.0",
    ),
    (
        "reading far ahead of the batch",
        lambda plate, sku: {
            "weights": weights([1.0, 1.1, 5000.0], [plate] * 3, [1.0, 1.0, 1.0])
        },
        "weights.t[2] = 5000.0",
    ),
    (
        "column lengths",
        lambda plate, sku: {"weights": weights([1.0, 2.0], [plate], [1.0, 1.0])},
        "weights.plate",
    ),
    (
        "bad joint",
        lambda plate, sku: {"poses": poses(joint=["head", "Left Wrist"])},
        "poses.joint[1] = 'Left Wrist'",
    ),
    (
        "score above one",
        lambda plate, sku: {"poses": poses(score=[0.9, 1.5])},
        "poses.score[1] = 1.5",
    ),
    (
        "bad hand",
        lambda plate, sku: {"vision": vision(sku, hand=["middle"])},
        "vision.hand[0] = 'middle'",
    ),
    (
        "unknown sku",
        lambda plate, sku: {"vision": vision("no-such-sku")},
        "vision.sku[0] = 'no-such-sku'",
    ),
]


@pytest.mark.parametrize(
    ("case", "make", "expected"), BAD_BATCHES, ids=[c[0] for c in BAD_BATCHES]
)
def test_invalid_batch_names_field_row_value(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
    live_store_document: dict[str, Any],
    case: str,
    make: Any,
    expected: str,
) -> None:
    streams = make(first_plate(live_store_document), first_sku(live_store_document))
    response = live_client.post(
        f"/stores/{live_store_id}/sensors/batches",
        json=batch(f"bad-{case.replace(' ', '-')}", **streams),
        headers=live_gate,
    )

    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_sensor_batch"
    assert expected in response.json()["error"]["message"]
    assert stored_inputs(live_client, live_store_id) == 0


def test_non_finite_weight_rejected(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    text = (
        '{"batch_id": "nan", "weights": {"t": [1.0, 2.0], '
        f'"plate": ["{plate}", "{plate}"], "g": [1.0, NaN]}}}}'
    )
    response = live_client.post(
        f"/stores/{live_store_id}/sensors/batches",
        content=text,
        headers={**live_gate, "Content-Type": "application/json"},
    )

    assert response.status_code == 422, response.text
    assert "weights.g[1] = nan" in response.json()["error"]["message"]


def test_shopper_cannot_send_sensor_data(
    live_client: TestClient, live_store_id: str
) -> None:
    shopper = sign_up(live_client, "shopper-sensors@example.com")
    url = f"/stores/{live_store_id}/sensors/batches"

    as_shopper = live_client.post(url, json=batch("x"), headers=shopper)
    anonymous = live_client.post(url, json=batch("x"))

    assert as_shopper.status_code == 403, as_shopper.text
    assert anonymous.status_code == 401, anonymous.text


def test_websocket_acks_after_storing(
    live_client: TestClient,
    live_store_id: str,
    live_gate: dict[str, str],
    live_store_document: dict[str, Any],
) -> None:
    plate = first_plate(live_store_document)
    url = f"/stores/{live_store_id}/sensors/stream"
    with live_client.websocket_connect(url, headers=live_gate) as socket:
        socket.send_json(batch("ws:1", weights=weights([1.0], [plate], [5.0])))
        first = socket.receive_json()
        socket.send_json(batch("ws:1", weights=weights([1.0], [plate], [5.0])))
        again = socket.receive_json()
        socket.send_json(batch("ws:2", weights=weights([0.5], [plate], [5.0])))
        error = socket.receive_json()
        socket.send_text("not json")
        malformed = socket.receive_json()
        socket.send_bytes(b"\x00\x01binary")
        binary = socket.receive_json()
        socket.send_json(batch("ws:3", weights=weights([2.0], [plate], [5.0])))
        after_binary = socket.receive_json()

    assert first["batch_id"] == "ws:1"
    assert first["duplicate"] is False
    assert again["duplicate"] is True
    assert again["input_id"] == first["input_id"]
    assert error["error"]["code"] == "invalid_sensor_batch"
    assert error["batch_id"] == "ws:2"
    assert malformed["error"]["code"] == "invalid_sensor_batch"
    assert binary["error"]["code"] == "invalid_sensor_batch"
    assert "text frame" in binary["error"]["message"]
    assert after_binary["duplicate"] is False
    assert stored_inputs(live_client, live_store_id) == 2


def test_websocket_rejects_shopper(live_client: TestClient, live_store_id: str) -> None:
    shopper = sign_up(live_client, "shopper-ws@example.com")
    url = f"/stores/{live_store_id}/sensors/stream"

    with (
        pytest.raises(WebSocketDisconnect) as closed,
        live_client.websocket_connect(url, headers=shopper) as socket,
    ):
        socket.receive_json()

    assert closed.value.code == 1008


def test_exit_before_entry_rejected(
    live_client: TestClient, live_store_id: str, live_gate: dict[str, str]
) -> None:
    shopper = sign_up(live_client, "early-exit@example.com")
    enter(live_client, live_store_id, live_gate, shopper, ["e1"], 50.0)
    url = f"/stores/{live_store_id}/gate/exits"

    early = live_client.post(url, json={"track_id": "e1", "t": 45.0}, headers=live_gate)
    later = live_client.post(url, json={"track_id": "e1", "t": 55.0}, headers=live_gate)

    assert early.status_code == 422, early.text
    assert early.json()["error"]["code"] == "exit_before_entry"
    assert "t=45.0" in early.json()["error"]["message"]
    assert later.status_code == 200, later.text
    assert later.json()["visit_ended"] is True
