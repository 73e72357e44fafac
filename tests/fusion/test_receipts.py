"""Receipts from replayed events: groups, staff, account modes and line fields."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from fusion_builders import (
    COLA_A,
    COLA_B,
    DIABLO,
    FIJI,
    FIRE,
    above,
    away,
    make_event,
    make_poses,
    make_store,
)

from walkout.fusion import AMBIGUOUS_PRODUCT, ANONYMOUS_ACCOUNT, replay
from walkout.recording.model import (
    GateEvent,
    PoseSamples,
    ReceiptLine,
    Recording,
    Store,
    WeightReadings,
)


def make_recording(
    store: Store,
    gates: list[GateEvent] | None = None,
    poses: PoseSamples | None = None,
) -> Recording:
    empty = WeightReadings((), np.zeros(0), np.zeros(0, dtype=np.int32), np.zeros(0))
    return Recording(store=store, weights=empty, poses=poses, gates=gates or [])


def lines(items: list[ReceiptLine]) -> dict[str, int]:
    return {line.sku: line.qty for line in items}


def test_group_shares_one_cart() -> None:
    recording = make_recording(
        make_store(),
        gates=[
            GateEvent(0.0, "enter", "p1", "family"),
            GateEvent(0.2, "enter", "p2", "family"),
            GateEvent(1.0, "enter", "p3", "solo"),
        ],
        poses=make_poses(
            [
                ("p1", 0.0, 40.0, above("1.5.10")),
                ("p2", 0.0, 40.0, above("2.5.5")),
                ("p3", 0.0, 40.0, away("2.5.5", 3.0)),
            ]
        ),
    )
    events = [
        make_event({"1.5.10": -539.0}, t=10.0),
        make_event({"2.5.5": -106.0}, t=20.0),
    ]

    result = replay(recording, events=events)

    receipts = {r.account: r for r in result.receipts}
    assert set(receipts) == {"family", "solo"}
    assert receipts["family"].tracks == ["p1", "p2"]
    assert lines(receipts["family"].items) == {FIJI: 1, FIRE: 1}
    assert receipts["family"].total == Decimal("4.49")
    assert receipts["solo"].items == []


def test_staff_gets_no_receipt() -> None:
    recording = make_recording(
        make_store(staff=frozenset({"staff-7"})),
        gates=[
            GateEvent(0.0, "enter", "s1", "staff-7"),
            GateEvent(0.0, "enter", "p1", "acct-1"),
        ],
        poses=make_poses(
            [("s1", 0.0, 40.0, above("1.5.10")), ("p1", 0.0, 40.0, away("1.5.10", 3.0))]
        ),
    )

    result = replay(recording, events=[make_event({"1.5.10": -539.0})])

    assert [r.account for r in result.receipts] == ["acct-1"]
    assert result.receipts[0].items == []
    assert result.events[0].account == "staff-7"


def test_no_gates_tracks_are_accounts() -> None:
    recording = make_recording(
        make_store(),
        poses=make_poses(
            [("p1", 0.0, 40.0, above("1.5.10")), ("p2", 1.0, 40.0, away("1.5.10", 3.0))]
        ),
    )

    result = replay(recording, events=[make_event({"1.5.10": -539.0})])

    receipts = {r.account: r for r in result.receipts}
    assert set(receipts) == {"p1", "p2"}
    assert receipts["p1"].tracks == ["p1"]
    assert lines(receipts["p1"].items) == {FIJI: 1}
    assert receipts["p2"].items == []


def test_no_gates_no_poses_is_anonymous() -> None:
    recording = make_recording(make_store())

    result = replay(recording, events=[make_event({"1.5.10": -539.0})])

    [receipt] = result.receipts
    assert receipt.account == ANONYMOUS_ACCOUNT
    assert lines(receipt.items) == {FIJI: 1}
    assert receipt.items[0].confidence > 0.9


def test_visitor_without_purchase_gets_empty_receipt() -> None:
    recording = make_recording(
        make_store(), gates=[GateEvent(0.0, "enter", "p1", "acct-1")]
    )

    result = replay(recording, events=[])

    [receipt] = result.receipts
    assert receipt.account == "acct-1"
    assert receipt.tracks == ["p1"]
    assert receipt.items == []
    assert receipt.total == Decimal(0)


def test_put_back_reduces_line() -> None:
    recording = make_recording(
        make_store(), gates=[GateEvent(0.0, "enter", "p1", "acct-1")]
    )
    events = [
        make_event({"2.5.5": -211.0}, t=10.0),
        make_event({"1.5.10": -538.0}, t=20.0),
        make_event({"2.5.4": 105.0}, t=30.0),
    ]

    result = replay(recording, events=events)

    [receipt] = result.receipts
    assert lines(receipt.items) == {FIRE: 1, FIJI: 1}
    assert [e.action for e in result.events] == ["take", "take", "put"]
    assert result.events[0].qty == 2


def test_put_back_of_unheld_item_earns_no_credit() -> None:
    recording = make_recording(
        make_store(), gates=[GateEvent(0.0, "enter", "p1", "acct-1")]
    )
    events = [
        make_event({"2.5.4": 105.0}, t=10.0),
        make_event({"2.5.5": -106.0}, t=20.0),
    ]

    result = replay(recording, events=events)

    assert lines(result.receipts[0].items) == {FIRE: 1}


def test_line_carries_review_and_min_confidence() -> None:
    recording = make_recording(
        make_store(), gates=[GateEvent(0.0, "enter", "p1", "acct-1")]
    )
    events = [
        make_event({"1.5.10": -539.0}, t=10.0),
        make_event({"3.1.1": -355.5}, t=20.0),
    ]

    result = replay(recording, events=events)

    [receipt] = result.receipts
    by_sku = {line.sku: line for line in receipt.items}
    assert by_sku[FIJI].needs_review is False
    [cola] = [by_sku[sku] for sku in (COLA_A, COLA_B) if sku in by_sku]
    assert cola.needs_review is True
    assert cola.review_reason == AMBIGUOUS_PRODUCT
    assert cola.confidence == pytest.approx(result.events[1].confidence)
    assert cola.confidence < 0.7
    assert receipt.needs_review


def test_dropped_event_reported() -> None:
    recording = make_recording(
        make_store(), gates=[GateEvent(0.0, "enter", "p1", "acct-1")]
    )

    result = replay(recording, events=[make_event({"2.5.5": -9.0})])

    assert result.events == []
    assert len(result.dropped) == 1
    assert result.receipts[0].items == []


def test_relinked_track_listed_on_receipt() -> None:
    recording = make_recording(
        make_store(),
        gates=[GateEvent(0.0, "enter", "p1", "acct-1")],
        poses=make_poses(
            [("p1", 0.0, 5.0, away("2.5.5", 1.0)), ("p4", 6.0, 9.0, away("2.5.5", 1.2))]
        ),
    )

    result = replay(recording, events=[])

    [receipt] = result.receipts
    assert receipt.tracks == ["p1", "p4"]


def chips_swap_recording() -> Recording:
    """acct-1 takes a Diablo and a Fire bag (1.5 % apart), puts one back on the
    nuts plate and the other on the empty plate 3.1.3. acct-2 then takes the
    one on the nuts plate."""
    return make_recording(
        make_store(),
        gates=[
            GateEvent(0.0, "enter", "p1", "acct-1"),
            GateEvent(0.0, "enter", "p2", "acct-2"),
        ],
        poses=make_poses(
            [
                ("p1", 0.0, 15.0, above("2.5.2")),
                ("p1", 15.0, 25.0, above("2.5.5")),
                ("p1", 25.0, 35.0, above("3.1.2")),
                ("p1", 35.0, 45.0, above("3.1.3")),
                ("p2", 0.0, 50.0, away("3.1.2", 2.0)),
                ("p2", 50.0, 60.0, above("3.1.2")),
            ]
        ),
    )


def test_take_of_doubtful_put_inherits_review() -> None:
    events = [
        make_event({"2.5.2": -104.7}, t=10.0),
        make_event({"2.5.5": -104.7}, t=20.0),
        make_event({"3.1.2": 104.7}, t=30.0),
        make_event({"3.1.3": 104.7}, t=40.0),
        make_event({"3.1.2": -104.7}, t=55.0),
    ]

    result = replay(chips_swap_recording(), events=events)

    by_account = {r.account: r for r in result.receipts}
    assert by_account["acct-1"].items == []
    [line] = by_account["acct-2"].items
    assert line.sku in (DIABLO, FIRE)
    assert line.needs_review
    assert line.review_reason == AMBIGUOUS_PRODUCT
    second_put = result.events[3]
    assert second_put.action == "put"
    assert second_put.review_reason == AMBIGUOUS_PRODUCT


def test_doubtful_put_flags_kept_lookalike() -> None:
    events = [
        make_event({"2.5.2": -104.7}, t=10.0),
        make_event({"2.5.5": -104.7}, t=20.0),
        make_event({"3.1.2": 104.7}, t=30.0),
    ]

    result = replay(chips_swap_recording(), events=events)

    by_account = {r.account: r for r in result.receipts}
    [line] = by_account["acct-1"].items
    assert line.qty == 1
    assert line.review_reason == AMBIGUOUS_PRODUCT


def test_take_and_put_in_one_event_split() -> None:
    recording = make_recording(
        make_store(),
        gates=[
            GateEvent(0.0, "enter", "p1", "acct-1"),
            GateEvent(0.0, "enter", "p2", "acct-2"),
        ],
        poses=make_poses(
            [
                ("p1", 0.0, 40.0, above("1.5.10")),
                ("p2", 0.0, 40.0, above("1.5.12")),
            ]
        ),
    )
    # p2 took an Arrowhead at t=5 and puts it back on 1.5.12 while p1
    # lifts a FIJI from 1.5.10: the detector reports one event on both.
    events = [
        make_event({"1.5.12": -621.0}, t=5.0),
        make_event({"1.5.10": -540.0, "1.5.12": 620.0}, t=20.0),
    ]

    result = replay(recording, events=events)

    by_account = {r.account: lines(r.items) for r in result.receipts}
    assert by_account == {"acct-1": {FIJI: 1}, "acct-2": {}}
    assert not any(r.needs_review for r in result.receipts)
