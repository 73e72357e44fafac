"""Drive a simulated recording through the service: passes, gates, sensor batches."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from live_fakes import enter, sign_up
from live_streams import Window, windows

from walkout.recording.model import Recording


def shoppers_for(
    client: Any, recording: Recording, prefix: str
) -> dict[str, dict[str, str]]:
    """Sign up one shopper with a card per account of the recording's gates."""
    accounts = dict.fromkeys(
        gate.account
        for gate in recording.gates
        if gate.action == "enter" and gate.account
    )
    return {
        account: sign_up(client, f"{prefix}-{account}@example.com")
        for account in accounts
    }


def drive(
    client: Any,
    store_id: str,
    gate_headers: dict[str, str],
    recording: Recording,
    shoppers: dict[str, dict[str, str]],
    *,
    start: float = -1e18,
    stop: float = 1e18,
    visits: dict[str, str] | None = None,
    drop_poses: bool = False,
    on_window: Callable[[Window], None] | None = None,
) -> dict[str, str]:
    """Send the windows that start in [start, stop); return account to visit id.

    Each account enters on one pass with all of its tracks at its first
    ``enter`` row; exits are sent per track.
    """
    visits = {} if visits is None else visits
    tracks_of: dict[str, list[str]] = {}
    for gate in recording.gates:
        if gate.action == "enter" and gate.account:
            tracks_of.setdefault(gate.account, []).append(gate.track)
    for index, window in enumerate(windows(recording, 1.0)):
        if not start <= window.start < stop:
            continue
        for gate in window.gates:
            if gate.action == "enter" and gate.account and gate.account not in visits:
                body = enter(
                    client,
                    store_id,
                    gate_headers,
                    shoppers[gate.account],
                    tracks_of[gate.account],
                    gate.t,
                )
                visits[gate.account] = body["id"]
            elif gate.action == "exit":
                response = client.post(
                    f"/stores/{store_id}/gate/exits",
                    json={"track_id": gate.track, "t": gate.t},
                    headers=gate_headers,
                )
                assert response.status_code == 200, response.text
        payload = dict(window.payload)
        if drop_poses:
            payload.pop("poses", None)
        response = client.post(
            f"/stores/{store_id}/sensors/batches",
            json={"batch_id": f"sim:{index}", **payload},
            headers=gate_headers,
        )
        assert response.status_code == 201, response.text
        if on_window is not None:
            on_window(window)
    return visits


def wait_for_status(
    client: Any,
    visit_ids: list[str],
    headers: dict[str, str],
    statuses: set[str],
    timeout_s: float = 60.0,
) -> dict[str, dict[str, Any]]:
    """Poll the visits until each has one of ``statuses``; return their bodies."""
    deadline = time.monotonic() + timeout_s
    bodies: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        for visit_id in visit_ids:
            response = client.get(f"/visits/{visit_id}", headers=headers)
            assert response.status_code == 200, response.text
            bodies[visit_id] = response.json()
        if all(body["status"] in statuses for body in bodies.values()):
            return bodies
        time.sleep(0.2)
    states = {visit: body["status"] for visit, body in bodies.items()}
    raise AssertionError(f"visits did not reach {statuses} in {timeout_s} s: {states}")
