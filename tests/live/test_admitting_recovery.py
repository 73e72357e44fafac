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
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class Scene:
    """The app and one of its stores, with the gate's headers, clock and provider."""

    client: TestClient
    store_id: str
    gate: Headers
    clock: LiveClock
    provider: CrashingProvider


@pytest.fixture
def scene(
    live_any_client: TestClient,
    live_any_store_id: str,
    live_any_gate: Headers,
    live_clock: LiveClock,
    live_provider: CrashingProvider,
) -> Scene:
    return Scene(
        live_any_client, live_any_store_id, live_any_gate, live_clock, live_provider
    )


def _session_factory(scene: Scene) -> sessionmaker[Session]:
    app: Any = scene.client.app
    factory: sessionmaker[Session] = app.state.context.session_factory
    return factory


def _request_pass(
    scene: Scene, headers: Headers, party_size: int = 1
) -> tuple[str, str]:
    """Return the token and the id of a new pass."""
    response = scene.client.post(
        f"/stores/{scene.store_id}/passes",
        json={"party_size": party_size},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["token"]), str(body["id"])


def _enter(scene: Scene, token: str, tracks: list[str]) -> Any:
    return scene.client.post(
        f"/stores/{scene.store_id}/gate/entries",
        json={"pass_token": token, "track_ids": tracks},
        headers=scene.gate,
    )


def _crash_entry(scene: Scene, token: str, tracks: list[str]) -> None:
    with pytest.raises(SimulatedCrash):
        _enter(scene, token, tracks)


def _interrupted_entry(
    scene: Scene,
    *,
    email: str = "ann@example.com",
    card: str | None = "tok_visa",
    tracks: tuple[str, ...] = ("p1",),
    crash_before_hold: bool = False,
    age_s: float = TIMEOUT_S + 1,
) -> tuple[Headers, str, str]:
    """Sign up a shopper, crash its entry and advance the clock by ``age_s``.

    The entry crashes after the hold call unless ``crash_before_hold``.
    Returns the shopper's headers and the token and id of its pass.
    """
    shopper = sign_up(scene.client, email, card=card)
    token, pass_id = _request_pass(scene, shopper, party_size=len(tracks))
    if crash_before_hold:
        scene.provider.crash_before_hold = True
    else:
        scene.provider.crash_after_hold = True
    _crash_entry(scene, token, list(tracks))
    scene.clock.advance(age_s)
    return shopper, token, pass_id


def _people_inside(scene: Scene) -> int:
    response = scene.client.get(
        f"/stores/{scene.store_id}/occupancy", headers=scene.gate
    )
    assert response.status_code == 200, response.text
    return int(response.json()["people_inside"])


def _recover(scene: Scene) -> list[Any]:
    response = scene.client.post(
        f"/stores/{scene.store_id}/gate/admissions/recover", headers=scene.gate
    )
    assert response.status_code == 200, response.text
    body: list[Any] = response.json()
    return body


def _recover_directly(scene: Scene) -> list[RecoveredAdmission]:
    """Run ``recover_admissions`` for every store, outside the API."""
    with _session_factory(scene)() as session:
        return gates.recover_admissions(
            session,
            scene.provider,
            now=scene.clock(),
            timeout=timedelta(seconds=TIMEOUT_S),
        )


def _visit_rows(scene: Scene) -> list[tuple[str, str]]:
    with _session_factory(scene)() as session:
        rows = session.execute(select(Visit.id, Visit.status).order_by(Visit.id))
        return [(visit_id, status) for visit_id, status in rows]


def _orphan_rows(scene: Scene) -> tuple[int, int]:
    """Return the number of visit tracks and live visit rows."""
    with _session_factory(scene)() as session:
        tracks = len(session.scalars(select(VisitTrack.id)).all())
        live = len(session.scalars(select(LiveVisit.visit_id)).all())
    return tracks, live


def _pass_row(scene: Scene, pass_id: str) -> EntryPass:
    with _session_factory(scene)() as session:
        entry_pass = session.get(EntryPass, pass_id)
        assert entry_pass is not None
        return entry_pass


def _calls(provider: RecordingProvider, prefix: str) -> list[str]:
    return [call for call in provider.calls if call.startswith(prefix)]


def test_recovery_releases_hold_placed_before_crash(scene: Scene) -> None:
    provider = scene.provider
    _, _, pass_id = _interrupted_entry(scene, tracks=("p1", "p2"))
    assert _people_inside(scene) == 2

    recovered = _recover(scene)

    assert [row["outcome"] for row in recovered] == ["released"]
    assert recovered[0]["hold_id"] == "hold_1"
    assert _people_inside(scene) == 0
    assert _visit_rows(scene) == []
    assert _orphan_rows(scene) == (0, 0)
    # The probe replayed the first hold instead of placing another.
    assert list(provider.holds) == ["hold_1"]
    assert provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert _calls(provider, "cancel") == [f"cancel entry-hold-release:{pass_id}"]
    assert _calls(provider, "capture") == []
    entry_pass = _pass_row(scene, pass_id)
    assert entry_pass.outcome == "admission_abandoned"
    assert entry_pass.visit_id is None


def test_recovered_pass_is_used_up(scene: Scene) -> None:
    shopper, token, _ = _interrupted_entry(scene)
    _recover(scene)

    # Its hold key would replay the cancelled hold, so the pass stays used.
    rescan = _enter(scene, token, ["p1"])
    new_token, _ = _request_pass(scene, shopper)
    admitted = _enter(scene, new_token, ["p1"])

    assert rescan.status_code == 403
    assert rescan.json()["error"]["code"] == "pass_already_used"
    assert admitted.status_code == 201, admitted.text
    assert admitted.json()["status"] == "inside"
    assert scene.provider.holds["hold_2"].status == PaymentStatus.HELD
    assert _people_inside(scene) == 1


def test_recovery_releases_hold_of_probe(scene: Scene) -> None:
    """A crash before the hold call: the probe places a hold and cancels it."""
    provider = scene.provider
    _, _, pass_id = _interrupted_entry(scene, crash_before_hold=True)
    assert provider.holds == {}

    recovered = _recover(scene)

    assert [row["outcome"] for row in recovered] == ["released"]
    assert _people_inside(scene) == 0
    assert [hold.status for hold in provider.holds.values()] == [
        PaymentStatus.CANCELLED
    ]
    assert _calls(provider, "cancel") == [f"cancel entry-hold-release:{pass_id}"]


def test_second_recovery_does_nothing(scene: Scene) -> None:
    _interrupted_entry(scene)
    assert len(_recover(scene)) == 1
    calls = list(scene.provider.calls)
    scene.clock.advance(TIMEOUT_S + 1)

    again = _recover(scene)

    assert again == []
    assert scene.provider.calls == calls


def test_recovery_skips_young_admission(scene: Scene) -> None:
    _interrupted_entry(scene, age_s=TIMEOUT_S - 1)
    calls = list(scene.provider.calls)

    recovered = _recover(scene)

    assert recovered == []
    assert scene.provider.calls == calls
    assert [status for _, status in _visit_rows(scene)] == ["admitting"]
    assert _people_inside(scene) == 1


def test_recovery_of_declined_card(scene: Scene) -> None:
    provider = scene.provider
    _, _, pass_id = _interrupted_entry(
        scene, card=DECLINED_TOKEN, crash_before_hold=True
    )

    recovered = _recover(scene)

    assert [row["outcome"] for row in recovered] == ["declined"]
    assert recovered[0]["hold_id"] is None
    assert _people_inside(scene) == 0
    assert provider.holds == {}
    assert _calls(provider, "cancel") == []
    assert _pass_row(scene, pass_id).outcome == "card_declined"


def test_recovery_of_restock_returns_pass(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restock visit places no hold, so its pass is valid again."""
    token, pass_id = _request_pass(scene, scene.gate)

    def crash(*args: object, **kwargs: object) -> None:
        raise SimulatedCrash("crash while opening the visit")

    with monkeypatch.context() as patch:
        patch.setattr(gates, "add_gate_input", crash)
        _crash_entry(scene, token, ["s1"])
    assert [status for _, status in _visit_rows(scene)] == ["admitting"]
    scene.clock.advance(TIMEOUT_S + 1)

    recovered = _recover(scene)
    rescan = _enter(scene, token, ["s1"])

    assert [row["outcome"] for row in recovered] == ["restock"]
    assert scene.provider.calls == []
    assert rescan.status_code == 201, rescan.text
    assert rescan.json()["status"] == "inside"
    assert _pass_row(scene, pass_id).outcome == "admitted"


def test_failed_recovery_is_retried(scene: Scene) -> None:
    provider = scene.provider
    _interrupted_entry(scene)
    provider.hold_error = "provider_unavailable"

    failed = _recover(scene)
    exit_response = scene.client.post(
        f"/stores/{scene.store_id}/gate/exits",
        json={"track_id": "p1"},
        headers=scene.gate,
    )
    provider.hold_error = None
    too_soon = _recover(scene)
    scene.clock.advance(TIMEOUT_S + 1)
    retried = _recover(scene)

    assert [row["outcome"] for row in failed] == ["failed"]
    assert failed[0]["error"] == "provider_unavailable"
    assert exit_response.status_code == 409
    assert exit_response.json()["error"]["code"] == "admission_abandoned"
    assert too_soon == []
    assert [row["outcome"] for row in retried] == ["released"]
    assert provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(provider, "cancel")) == 1
    assert _people_inside(scene) == 0


def test_stale_claim_is_taken_again(scene: Scene) -> None:
    """A recovery that died after its claim leaves the visit "releasing"."""
    _interrupted_entry(scene)
    with _session_factory(scene)() as session:
        session.execute(
            update(Visit).values(status=VisitStatus.RELEASING, ended_at=scene.clock())
        )
        session.commit()

    fresh_claim = _recover(scene)
    scene.clock.advance(TIMEOUT_S + 1)
    stale_claim = _recover(scene)

    assert fresh_claim == []
    assert [row["outcome"] for row in stale_claim] == ["released"]
    assert len(_calls(scene.provider, "cancel")) == 1


def test_admission_outliving_timeout_is_cancelled(scene: Scene) -> None:
    """Recovery claims an entry whose hold call still runs, so the gate stays shut."""
    provider = scene.provider
    shopper = sign_up(scene.client, "ann@example.com")
    token, _ = _request_pass(scene, shopper)
    recovered: list[RecoveredAdmission] = []

    def recover_during_hold() -> None:
        scene.clock.advance(TIMEOUT_S + 1)
        recovered.extend(_recover_directly(scene))

    provider.after_hold = recover_during_hold

    response = _enter(scene, token, ["p1"])

    assert response.status_code == 409, response.text
    assert response.json()["error"]["code"] == "admission_abandoned"
    assert [row.outcome for row in recovered] == [gates.RecoveryOutcome.RELEASED]
    assert provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(provider, "cancel")) == 1
    assert _people_inside(scene) == 0
    assert _visit_rows(scene) == []


def test_concurrent_recoveries_release_once(scene: Scene) -> None:
    provider = scene.provider
    for index in range(4):
        _interrupted_entry(
            scene, email=f"shopper{index}@example.com", tracks=(f"p{index}",), age_s=0
        )
    scene.clock.advance(TIMEOUT_S + 1)
    barrier = threading.Barrier(2)
    results: list[list[RecoveredAdmission]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(_recover_directly(scene))
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
    cancels = _calls(provider, "cancel")
    assert len(cancels) == 4
    assert len(set(cancels)) == 4
    statuses = {hold.status for hold in provider.holds.values()}
    assert statuses == {PaymentStatus.CANCELLED}
    assert _people_inside(scene) == 0


def test_service_start_recovers_admissions(
    live_database_url: str, scene: Scene
) -> None:
    _interrupted_entry(scene)

    restarted_app = create_app(
        _settings(live_database_url), provider=scene.provider, clock=scene.clock
    )
    with TestClient(restarted_app) as second_client:
        restarted = replace(scene, client=second_client)
        deadline = time.monotonic() + 20
        while _visit_rows(restarted) and time.monotonic() < deadline:
            time.sleep(0.05)
        inside = _people_inside(restarted)

    assert inside == 0
    assert scene.provider.holds["hold_1"].status == PaymentStatus.CANCELLED
    assert len(_calls(scene.provider, "cancel")) == 1


def test_admission_timeout_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WALKOUT_ADMISSION_TIMEOUT_S", "300")
    monkeypatch.setenv("WALKOUT_ADMISSION_RECOVERY_INTERVAL_S", "15")

    settings = Settings()

    assert settings.admission_timeout_s == 300
    assert settings.admission_recovery_interval_s == 15
    assert Settings.model_fields["admission_timeout_s"].default == 120
