"""Recovery of entries interrupted between the reservation and the hold's result.

A process that dies after ``admit`` committed the reservation leaves a visit
in "admitting". ``recover_admissions`` releases the hold that the attempt may
have placed and deletes the reservation. Each test runs on SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from live_fakes import LiveClock, RecordingProvider, live_settings, sign_up
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from payment_doubles import DECLINED_TOKEN
from walkout.db.live_models import LiveVisit
from walkout.db.migrate import upgrade
from walkout.db.models import EntryPass, Visit, VisitTrack
from walkout.payments.base import Hold, PaymentError, PaymentStatus
from walkout.service.app import create_app
from walkout.service.settings import Settings
from walkout.store import gates
from walkout.store.gates import RecoveredAdmission, VisitStatus

Headers = dict[str, str]

TIMEOUT_S = 120.0


class SimulatedCrash(Exception):
    """The service process dies at this point of the request."""


@dataclass
class CrashingProvider(RecordingProvider):
    """The recording provider, able to crash or fail around a hold call."""

    crash_before_hold: bool = False
    crash_after_hold: bool = False
    # A payment error code that every hold call raises while set.
    hold_error: str | None = None
    # Runs once, after the hold is placed and before it is returned.
    after_hold: Callable[[], None] | None = None

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold:
        if self.crash_before_hold:
            self.crash_before_hold = False
            raise SimulatedCrash("crash before the hold call")
        if self.hold_error is not None:
            self.calls.append(f"hold {idempotency_key} failed")
            raise PaymentError(self.hold_error, "the provider is unreachable")
        hold = super().hold(
            customer, method, amount, currency, idempotency_key=idempotency_key
        )
        if self.crash_after_hold:
            self.crash_after_hold = False
            raise SimulatedCrash("crash after the hold call")
        callback, self.after_hold = self.after_hold, None
        if callback is not None:
            callback()
        return hold


@pytest.fixture
def live_provider() -> CrashingProvider:
    return CrashingProvider()


@pytest.fixture
def live_any_client(
    live_database_url: str, live_clock: LiveClock, live_provider: CrashingProvider
) -> Iterator[TestClient]:
    """The app with passes that outlive the admission timeout.

    The periodic recovery runs at start-up only, so each test decides when
    recovery runs.
    """
    upgrade(live_database_url)
    settings = _settings(live_database_url)
    app = create_app(settings, provider=live_provider, clock=live_clock)
    with TestClient(app) as client:
        yield client


def _settings(url: str) -> Settings:
    return live_settings(
        url,
        entry_pass_seconds=900,
        admission_timeout_s=TIMEOUT_S,
        admission_recovery_interval_s=3600,
    )


def _session_factory(client: TestClient) -> sessionmaker[Session]:
    app: Any = client.app
    factory: sessionmaker[Session] = app.state.context.session_factory
    return factory


def _request_pass(
    client: TestClient, store_id: str, headers: Headers, party_size: int = 1
) -> tuple[str, str]:
    """Return the token and the id of a new pass."""
    response = client.post(
        f"/stores/{store_id}/passes", json={"party_size": party_size}, headers=headers
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["token"]), str(body["id"])


def _enter(
    client: TestClient, store_id: str, gate: Headers, token: str, tracks: list[str]
) -> Any:
    return client.post(
        f"/stores/{store_id}/gate/entries",
        json={"pass_token": token, "track_ids": tracks},
        headers=gate,
    )


def _crash_entry(
    client: TestClient, store_id: str, gate: Headers, token: str, tracks: list[str]
) -> None:
    with pytest.raises(SimulatedCrash):
        _enter(client, store_id, gate, token, tracks)


def _people_inside(client: TestClient, store_id: str, gate: Headers) -> int:
    response = client.get(f"/stores/{store_id}/occupancy", headers=gate)
    assert response.status_code == 200, response.text
    return int(response.json()["people_inside"])


def _recover(client: TestClient, store_id: str, gate: Headers) -> list[Any]:
    response = client.post(f"/stores/{store_id}/gate/admissions/recover", headers=gate)
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


def _visit_rows(client: TestClient) -> list[tuple[str, str]]:
    with _session_factory(client)() as session:
        rows = session.execute(select(Visit.id, Visit.status).order_by(Visit.id))
        return [(visit_id, status) for visit_id, status in rows]


def _orphan_rows(client: TestClient) -> tuple[int, int]:
    """Return the number of visit tracks and live visit rows."""
    with _session_factory(client)() as session:
        tracks = len(session.scalars(select(VisitTrack.id)).all())
        live = len(session.scalars(select(LiveVisit.visit_id)).all())
    return tracks, live


def _pass_row(client: TestClient, pass_id: str) -> EntryPass:
    with _session_factory(client)() as session:
        entry_pass = session.get(EntryPass, pass_id)
        assert entry_pass is not None
        return entry_pass


def _calls(provider: RecordingProvider, prefix: str) -> list[str]:
    return [call for call in provider.calls if call.startswith(prefix)]


def test_recovery_releases_hold_placed_before_crash(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, pass_id = _request_pass(client, store_id, shopper, party_size=2)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1", "p2"])
    assert _people_inside(client, store_id, gate) == 2
    live_clock.advance(TIMEOUT_S + 1)

    recovered = _recover(client, store_id, gate)

    assert [row["outcome"] for row in recovered] == ["released"]
    assert recovered[0]["hold_id"] == "hold_1"
    assert _people_inside(client, store_id, gate) == 0
    assert _visit_rows(client) == []
    assert _orphan_rows(client) == (0, 0)
    # The probe replayed the first hold instead of placing another.
    assert list(live_provider.holds) == ["hold_1"]
    assert live_provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert _calls(live_provider, "cancel") == [f"cancel entry-hold-release:{pass_id}"]
    assert _calls(live_provider, "capture") == []
    entry_pass = _pass_row(client, pass_id)
    assert entry_pass.outcome == "admission_abandoned"
    assert entry_pass.visit_id is None


def test_recovered_pass_is_used_up(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)
    _recover(client, store_id, gate)

    # Its hold key would replay the cancelled hold, so the pass stays used.
    rescan = _enter(client, store_id, gate, token, ["p1"])
    new_token, _ = _request_pass(client, store_id, shopper)
    admitted = _enter(client, store_id, gate, new_token, ["p1"])

    assert rescan.status_code == 403
    assert rescan.json()["error"]["code"] == "pass_already_used"
    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["status"] == "inside"
    assert live_provider.holds["hold_2"].status == PaymentStatus.HELD
    assert _people_inside(client, store_id, gate) == 1


def test_recovery_releases_hold_of_probe(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    """A crash before the hold call: the probe places a hold and cancels it."""
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, pass_id = _request_pass(client, store_id, shopper)
    live_provider.crash_before_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    assert live_provider.holds == {}
    live_clock.advance(TIMEOUT_S + 1)

    recovered = _recover(client, store_id, gate)

    assert [row["outcome"] for row in recovered] == ["released"]
    assert _people_inside(client, store_id, gate) == 0
    assert [hold.status for hold in live_provider.holds.values()] == [
        PaymentStatus.CANCELLED
    ]
    assert _calls(live_provider, "cancel") == [f"cancel entry-hold-release:{pass_id}"]


def test_second_recovery_does_nothing(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)
    assert len(_recover(client, store_id, gate)) == 1
    calls = list(live_provider.calls)
    live_clock.advance(TIMEOUT_S + 1)

    again = _recover(client, store_id, gate)

    assert again == []
    assert live_provider.calls == calls


def test_recovery_skips_young_admission(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S - 1)
    calls = list(live_provider.calls)

    recovered = _recover(client, store_id, gate)

    assert recovered == []
    assert live_provider.calls == calls
    assert [status for _, status in _visit_rows(client)] == ["admitting"]
    assert _people_inside(client, store_id, gate) == 1


def test_recovery_of_declined_card(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com", card=DECLINED_TOKEN)
    token, pass_id = _request_pass(client, store_id, shopper)
    live_provider.crash_before_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)

    recovered = _recover(client, store_id, gate)

    assert [row["outcome"] for row in recovered] == ["declined"]
    assert recovered[0]["hold_id"] is None
    assert _people_inside(client, store_id, gate) == 0
    assert live_provider.holds == {}
    assert _calls(live_provider, "cancel") == []
    assert _pass_row(client, pass_id).outcome == "card_declined"


def test_recovery_of_restock_returns_pass(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A restock visit places no hold, so its pass is valid again."""
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    token, pass_id = _request_pass(client, store_id, gate)

    def crash(*args: object, **kwargs: object) -> None:
        raise SimulatedCrash("crash while opening the visit")

    with monkeypatch.context() as patch:
        patch.setattr(gates, "add_gate_input", crash)
        _crash_entry(client, store_id, gate, token, ["s1"])
    assert [status for _, status in _visit_rows(client)] == ["admitting"]
    live_clock.advance(TIMEOUT_S + 1)

    recovered = _recover(client, store_id, gate)
    rescan = _enter(client, store_id, gate, token, ["s1"])

    assert [row["outcome"] for row in recovered] == ["restock"]
    assert live_provider.calls == []
    assert rescan.status_code == 201, rescan.text
    assert rescan.json()["status"] == "inside"
    assert _pass_row(client, pass_id).outcome == "admitted"


def test_failed_recovery_is_retried(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)
    live_provider.hold_error = "provider_unavailable"

    failed = _recover(client, store_id, gate)
    exit_response = client.post(
        f"/stores/{store_id}/gate/exits", json={"track_id": "p1"}, headers=gate
    )
    live_provider.hold_error = None
    too_soon = _recover(client, store_id, gate)
    live_clock.advance(TIMEOUT_S + 1)
    retried = _recover(client, store_id, gate)

    assert [row["outcome"] for row in failed] == ["failed"]
    assert failed[0]["error"] == "provider_unavailable"
    assert exit_response.status_code == 409
    assert exit_response.json()["error"]["code"] == "admission_abandoned"
    assert too_soon == []
    assert [row["outcome"] for row in retried] == ["released"]
    assert live_provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(live_provider, "cancel")) == 1
    assert _people_inside(client, store_id, gate) == 0


def test_stale_claim_is_taken_again(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    """A recovery that died after its claim leaves the visit "releasing"."""
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)
    with _session_factory(client)() as session:
        session.execute(
            update(Visit).values(status=VisitStatus.RELEASING, ended_at=live_clock())
        )
        session.commit()

    fresh_claim = _recover(client, store_id, gate)
    live_clock.advance(TIMEOUT_S + 1)
    stale_claim = _recover(client, store_id, gate)

    assert fresh_claim == []
    assert [row["outcome"] for row in stale_claim] == ["released"]
    assert len(_calls(live_provider, "cancel")) == 1


def test_admission_outliving_timeout_is_cancelled(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    """Recovery claims an entry whose hold call still runs; the gate stays shut."""
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    recovered: list[RecoveredAdmission] = []

    def recover_during_hold() -> None:
        live_clock.advance(TIMEOUT_S + 1)
        with _session_factory(client)() as session:
            recovered.extend(
                gates.recover_admissions(
                    session,
                    live_provider,
                    now=live_clock(),
                    timeout=timedelta(seconds=TIMEOUT_S),
                )
            )

    live_provider.after_hold = recover_during_hold

    response = _enter(client, store_id, gate, token, ["p1"])

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "admission_abandoned"
    assert [row.outcome for row in recovered] == [gates.RecoveryOutcome.RELEASED]
    assert live_provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(live_provider, "cancel")) == 1
    assert _people_inside(client, store_id, gate) == 0
    assert _visit_rows(client) == []


def test_concurrent_recoveries_release_once(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    for index in range(4):
        shopper = sign_up(client, f"shopper{index}@example.com")
        token, _ = _request_pass(client, store_id, shopper)
        live_provider.crash_after_hold = True
        _crash_entry(client, store_id, gate, token, [f"p{index}"])
    live_clock.advance(TIMEOUT_S + 1)
    factory = _session_factory(client)
    barrier = threading.Barrier(2)
    results: list[list[RecoveredAdmission]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            with factory() as session:
                results.append(
                    gates.recover_admissions(
                        session,
                        live_provider,
                        now=live_clock(),
                        timeout=timedelta(seconds=TIMEOUT_S),
                    )
                )
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    visit_ids = [row.visit_id for result in results for row in result]
    assert len(visit_ids) == 4
    assert len(set(visit_ids)) == 4
    cancels = _calls(live_provider, "cancel")
    assert len(cancels) == 4
    assert len(set(cancels)) == 4
    statuses = {hold.status for hold in live_provider.holds.values()}
    assert statuses == {PaymentStatus.CANCELLED}
    assert _people_inside(client, store_id, gate) == 0


def test_service_start_recovers_admissions(
    live_database_url: str,
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> None:
    client, store_id, gate = live_any_client, live_any_store_id, live_any_gate
    shopper = sign_up(client, "ann@example.com")
    token, _ = _request_pass(client, store_id, shopper)
    live_provider.crash_after_hold = True
    _crash_entry(client, store_id, gate, token, ["p1"])
    live_clock.advance(TIMEOUT_S + 1)

    restarted = create_app(
        _settings(live_database_url), provider=live_provider, clock=live_clock
    )
    with TestClient(restarted) as second:
        deadline = time.monotonic() + 20
        while _visit_rows(second) and time.monotonic() < deadline:
            time.sleep(0.05)
        inside = _people_inside(second, store_id, gate)

    assert inside == 0
    assert live_provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(live_provider, "cancel")) == 1


def test_admission_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALKOUT_ADMISSION_TIMEOUT_S", "300")
    monkeypatch.setenv("WALKOUT_ADMISSION_RECOVERY_INTERVAL_S", "15")

    settings = Settings()

    assert settings.admission_timeout_s == 300
    assert settings.admission_recovery_interval_s == 15
    assert Settings.model_fields["admission_timeout_s"].default == 120
