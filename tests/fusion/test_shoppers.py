"""Shopper association: tracks near the plate, accounts, re-linking, no poses."""

from __future__ import annotations

import pytest
from fusion_builders import FIJI, above, away, make_event, make_poses, make_store

from walkout.fusion import (
    AMBIGUOUS_SHOPPER,
    AccountMode,
    FusionEngine,
    PoseIndex,
    associate_tracks,
    plate_distances,
)
from walkout.recording.model import GateEvent
from walkout.sensing.model import PlateChange, ShelfEvent

FIJI_TAKE = {"1.5.10": -540.0}


def test_plate_distance_zero_inside_rectangle() -> None:
    plate = make_store().plates["1.5.10"]
    x, y, z = plate.center
    points = make_poses([("p1", 0.0, 0.1, (x + 0.04, y + 0.15, z))]).xyz

    distances = plate_distances(points[1:2], plate)

    assert distances[0] == pytest.approx(0.0)


def test_plate_distance_counts_height() -> None:
    plate = make_store().plates["1.5.10"]

    distances = plate_distances(
        make_poses([("p1", 0.0, 0.1, above("1.5.10", 0.2))]).xyz[1:2], plate
    )

    assert distances[0] == pytest.approx(0.2)


# label, wrist position of p1, of p2, expected best track, ambiguous
PAIRS = [
    ("one near", above("1.5.10"), away("1.5.10", 1.5), "p1", False),
    ("other near", away("1.5.10", 1.2), above("1.5.10", 0.05), "p2", False),
    ("both near", above("1.5.10"), above("1.5.10", 0.11), "p1", True),
]


@pytest.mark.parametrize(
    ("label", "first", "second", "best", "ambiguous"),
    PAIRS,
    ids=[case[0] for case in PAIRS],
)
def test_associate_two_tracks(
    label: str,
    first: tuple[float, float, float],
    second: tuple[float, float, float],
    best: str,
    ambiguous: bool,
) -> None:
    store = make_store()
    engine = FusionEngine(store, mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    engine.add_poses(make_poses([("p1", 5.0, 15.0, first), ("p2", 5.0, 15.0, second)]))

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.track == best
    assert (decided.review_reason == AMBIGUOUS_SHOPPER) is ambiguous
    assert sum(s.p for s in decided.shoppers) == pytest.approx(1.0)


def test_associate_ignores_samples_outside_window() -> None:
    store = make_store()
    index = PoseIndex()
    index.add(
        make_poses(
            [("p1", 0.0, 5.0, above("1.5.10")), ("p2", 9.0, 11.0, away("1.5.10", 0.3))]
        )
    )

    scores = associate_tracks(make_event(FIJI_TAKE), [store.plates["1.5.10"]], index)

    assert [s.track for s in scores] == ["p2"]
    assert scores[0].p == pytest.approx(1.0)


def test_far_only_track_goes_to_review() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_poses(make_poses([("p1", 5.0, 15.0, away("1.5.10", 1.5))]))

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.account == "acct-1"
    assert decided.review_reason == AMBIGUOUS_SHOPPER


def test_group_members_share_probability() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "family"))
    engine.add_gate(GateEvent(0.1, "enter", "p2", "family"))
    engine.add_poses(
        make_poses(
            [("p1", 5.0, 15.0, above("1.5.10")), ("p2", 5.0, 15.0, above("1.5.10"))]
        )
    )

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.account == "family"
    assert decided.shopper_p == pytest.approx(1.0)
    assert decided.review_reason is None


def test_no_poses_one_shopper_gets_event() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(1.0, "enter", "s1", "staff-7"))
    engine.store.staff_accounts = frozenset({"staff-7"})

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.account == "acct-1"
    assert decided.shopper_p == 1.0
    assert decided.review_reason is None


def test_no_poses_two_shoppers_review() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(1.0, "enter", "p2", "acct-2"))

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.account == "acct-1"
    assert decided.shopper_p == pytest.approx(0.5)
    assert decided.review_reason == AMBIGUOUS_SHOPPER


def test_no_poses_after_exit_one_shopper_left() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(1.0, "enter", "p2", "acct-2"))
    engine.add_gate(GateEvent(5.0, "exit", "p1", None))

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.account == "acct-2"
    assert decided.review_reason is None


def test_lost_track_relinked_to_nearest_loss() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    engine.add_poses(
        make_poses(
            [
                # p1 is lost near the water at t=6 and reappears as p9 at t=7.
                ("p1", 0.0, 6.0, away("1.5.10", 0.6)),
                ("p2", 0.0, 20.0, away("2.5.5", 0.6)),
                ("p9", 7.0, 20.0, above("1.5.10")),
            ]
        )
    )

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.track == "p9"
    assert decided.account == "acct-1"
    assert engine.accounts.account_tracks["acct-1"] == ["p1", "p9"]


def test_track_far_from_any_loss_not_linked() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_poses(
        make_poses(
            [
                ("p1", 0.0, 20.0, away("1.5.10", 0.8)),
                ("p9", 7.0, 20.0, above("1.5.10")),
            ]
        )
    )

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.track == "p1"
    assert "p9" not in engine.accounts.track_account


def test_staff_take_updates_shelf_only() -> None:
    store = make_store(staff=frozenset({"staff-7"}))
    engine = FusionEngine(store, mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "s1", "staff-7"))
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_poses(
        make_poses(
            [("s1", 5.0, 15.0, above("1.5.10")), ("p1", 5.0, 15.0, away("1.5.10", 2.0))]
        )
    )

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.staff
    assert engine.contents.units("1.5.10", FIJI) == 5
    assert [r.account for r in engine.receipts()] == ["acct-1"]
    assert engine.receipts()[0].items == []


def test_visible_track_not_taken_for_lost() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    engine.add_poses(
        make_poses(
            [
                # p1 is lost far away at t=5. p2 stays at the water until
                # t=20, missing two frames when p9 appears beside it at t=7,
                # so p9 can only continue p1.
                ("p1", 0.0, 5.0, away("1.5.12", 1.5)),
                ("p2", 0.0, 6.95, away("1.5.10", 0.6)),
                ("p2", 7.2, 20.0, away("1.5.10", 0.6)),
                ("p9", 7.0, 20.0, above("1.5.10")),
            ]
        )
    )
    engine.accounts.apply_until(7.05)

    assert engine.accounts.account_of("p9", engine.poses, 7.05) == "acct-1"
    assert engine.accounts.link_options("p9") == [("acct-1", 1.0)]


def test_relink_rejects_unwalkable_distance() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    engine.add_poses(
        make_poses(
            [
                # p1 is lost 1.5 m from where p9 appears, 2 s earlier: walkable.
                # p2 is lost 2.8 m away 0.3 s earlier, faster than
                # anyone walks.
                ("p1", 0.0, 5.0, away("1.5.10", 1.5)),
                ("p2", 0.0, 6.7, away("1.5.10", 2.8)),
                ("p9", 7.0, 20.0, above("1.5.10")),
            ]
        )
    )
    engine.accounts.apply_until(7.5)

    assert engine.accounts.account_of("p9", engine.poses, 7.5) == "acct-1"
    [(best, p), *_] = engine.accounts.link_options("p9")
    assert best == "acct-1"
    assert p > 0.99


def test_close_relink_sends_line_to_review() -> None:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    engine.add_gate(GateEvent(0.0, "enter", "p1", "acct-1"))
    engine.add_gate(GateEvent(0.0, "enter", "p2", "acct-2"))
    engine.add_poses(
        make_poses(
            [
                # Both are lost at t=6, 0.6 m on either side of where p9 appears.
                ("p1", 0.0, 6.0, away("1.5.9", 0.6)),
                ("p2", 0.0, 6.0, away("1.5.11", 0.6)),
                ("p9", 6.5, 20.0, above("1.5.10")),
            ]
        )
    )

    decided = engine.on_event(make_event(FIJI_TAKE))

    assert decided is not None
    assert decided.track == "p9"
    assert decided.review_reason == AMBIGUOUS_SHOPPER
    assert {a.account for a in decided.accounts} == {"acct-1", "acct-2"}


def test_long_change_credits_fresh_reach() -> None:
    # The change on 1.5.10 is detected from t=10 (ringing after p1's earlier
    # take) to t=14; p1's hand from that take rests there until t=11, and
    # p2 reaches in at t=12.5, when the load really steps.
    poses = PoseIndex()
    poses.add(
        make_poses(
            [
                ("p1", 9.0, 11.0, above("1.5.10")),
                ("p1", 11.1, 15.0, away("1.5.10", 0.8)),
                ("p2", 9.0, 12.4, away("1.5.10", 0.8)),
                ("p2", 12.5, 14.5, above("1.5.10")),
            ]
        )
    )
    store = make_store()
    event = ShelfEvent((PlateChange("1.5.10", 10.0, 14.0, -540.0, 1.0),))
    earlier = associate_tracks(
        make_event(FIJI_TAKE, t=9.6), [store.plates["1.5.10"]], poses
    )
    used = [earlier[0].reach] if earlier[0].reach is not None else []

    scores = associate_tracks(event, [store.plates["1.5.10"]], poses, used_reaches=used)

    assert earlier[0].track == "p1"
    assert scores[0].track == "p2"
    assert scores[0].p > 0.9
