"""Per-visit solver: later evidence revises doubtful shopper decisions."""

from __future__ import annotations

import pytest
from fusion_builders import (
    COLA_A,
    FIJI,
    above,
    away,
    make_event,
    make_poses,
    make_store,
)

from walkout.fusion import AMBIGUOUS_SHOPPER, AccountMode, FusionEngine
from walkout.recording.model import GateEvent


def two_shopper_engine() -> FusionEngine:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    return engine


def test_later_put_settles_doubtful_take() -> None:
    engine = two_shopper_engine()
    engine.add_poses(
        make_poses(
            [
                # Both wrists rest on the plate during the take.
                ("p1", 5.0, 12.0, above("1.5.10")),
                ("p2", 5.0, 12.0, above("1.5.10")),
                # Only p2 is at the cola plate for the put-back.
                ("p1", 12.0, 40.0, away("3.1.1", 3.0)),
                ("p2", 12.0, 40.0, above("3.1.1")),
            ]
        )
    )
    take = engine.on_event(make_event({"1.5.10": -540.0}, t=10.0))
    assert take is not None
    assert take.review_reason == AMBIGUOUS_SHOPPER

    engine.on_event(make_event({"3.1.1": 541.0}, t=30.0))
    revised = engine.finalise()

    assert [e.account for e in revised] == ["acct-2"]
    assert revised[0].review_reason is None
    assert revised[0].revised
    assert engine.carts["acct-2"].held() == {}
    assert "acct-1" not in engine.carts


def test_undecidable_take_stays_in_review() -> None:
    engine = two_shopper_engine()
    engine.add_poses(
        make_poses(
            [("p1", 5.0, 15.0, above("1.5.10")), ("p2", 5.0, 15.0, above("1.5.10"))]
        )
    )
    engine.on_event(make_event({"1.5.10": -540.0}, t=10.0))

    engine.finalise()

    (event,) = engine.decided
    assert event.review_reason == AMBIGUOUS_SHOPPER
    assert event.shopper_p == pytest.approx(0.5)
    assert [a.account for a in event.accounts] == ["acct-1", "acct-2"]
    assert event.changes[0].plate == "1.5.10"
    assert event.products[0].sku == FIJI


def test_staff_restock_is_not_a_put_back() -> None:
    engine = FusionEngine(make_store(frozenset({"staff-1"})), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "s1", "staff-1"))
    engine.add_poses(
        make_poses(
            [
                ("p1", 5.0, 12.0, above("1.5.10")),
                ("s1", 5.0, 12.0, away("1.5.10", 3.0)),
                # The shopper holding water stands near the cola plate.
                ("p1", 12.0, 40.0, away("3.1.1", 0.4)),
                ("s1", 12.0, 40.0, above("3.1.1")),
            ]
        )
    )
    engine.on_event(make_event({"1.5.10": -540.0}, t=10.0))

    restock = engine.on_event(make_event({"3.1.1": 356.0}, t=30.0))

    assert restock is not None
    assert restock.account == "staff-1"
    assert restock.staff
    assert restock.sku == COLA_A
    assert engine.carts["acct-1"].held() == {FIJI: 1}


def test_track_before_its_enter_row_is_not_relinked() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(10.8, "enter", "p2", "acct-2"))
    engine.add_poses(
        make_poses(
            [("p1", 0.0, 9.0, away("1.5.10", 0.5)), ("p2", 10.8, 20.0, above("1.5.10"))]
        )
    )

    decided = engine.on_event(make_event({"1.5.10": -540.0}, t=10.0))

    assert decided is not None
    assert engine.accounts.track_account["p2"] == "acct-2"
    assert "p1" not in engine.accounts.continued
