"""Multi-unit takes at one plate: one shopper's grab, two shoppers' grabs
that the load cells merged, passing hands and hands out of reach."""

from __future__ import annotations

import pytest
from fusion_builders import FIJI, FIRE, above, away, make_poses, make_store

from walkout.fusion import AMBIGUOUS_SHOPPER, AccountMode, FusionEngine, FusionParams
from walkout.recording.model import GateEvent, PoseSamples
from walkout.sensing.model import PlateChange, ShelfEvent

# Two FIJI bottles (538 g each) leave plate 1.5.9 between t=9.5 and t=10.5.
TWO_BOTTLES = ShelfEvent((PlateChange("1.5.9", 9.5, 10.5, -1076.0, 1.0),))
THREE_BOTTLES = ShelfEvent((PlateChange("1.5.9", 9.5, 10.5, -1614.0, 1.0),))

# (track, t_start, t_end, wrist position), as ``make_poses`` takes them.
Visit = tuple[str, float, float, tuple[float, float, float]]


def _engine(accounts: int) -> FusionEngine:
    engine = FusionEngine(make_store(), mode=AccountMode.GATES)
    for index in range(1, accounts + 1):
        engine.add_gate(GateEvent(0.0, "enter", f"p{index}", f"acct-{index}"))
    return engine


def _grab(track: str, plate: str, arrive: float, leave: float) -> list[Visit]:
    """Return pose visits of a shopper who waits 0.6 m in front of ``plate``,
    reaches into it from ``arrive`` to ``leave`` and steps back again."""
    return [
        (track, 0.0, arrive, away(plate, 0.6)),
        (track, arrive, leave, above(plate, 0.05)),
        (track, leave, 20.0, away(plate, 0.6)),
    ]


def _lines(engine: FusionEngine) -> list[tuple[str | None, int, str | None]]:
    return sorted(
        (event.account, event.qty, event.review_reason) for event in engine.decided
    )


def _poses(*tracks: list[Visit]) -> PoseSamples:
    return make_poses([visit for track in tracks for visit in track], rate_hz=15.0)


def test_one_shopper_two_units_one_line() -> None:
    engine = _engine(2)
    engine.add_poses(
        _poses(
            _grab("p1", "1.5.9", 9.0, 11.0),
            [("p2", 0.0, 20.0, away("1.5.9", 0.8))],
        )
    )

    engine.decide(TWO_BOTTLES)

    assert _lines(engine) == [("acct-1", 2, None)]
    assert engine.decided[0].sku == FIJI


def test_two_reaches_one_unit_each() -> None:
    engine = _engine(2)
    engine.add_poses(
        _poses(_grab("p1", "1.5.9", 9.1, 10.1), _grab("p2", "1.5.9", 9.9, 11.0))
    )

    engine.decide(TWO_BOTTLES)

    assert _lines(engine) == [("acct-1", 1, None), ("acct-2", 1, None)]


def test_passing_hand_gets_no_unit() -> None:
    # p2's wrist sweeps past the plate 12 cm above it for 0.13 s while p1
    # lifts both bottles.
    engine = _engine(2)
    engine.add_poses(
        _poses(
            _grab("p1", "1.5.9", 9.0, 11.0),
            [
                ("p2", 0.0, 10.0, away("1.5.9", 0.6)),
                ("p2", 10.0, 10.14, above("1.5.9", 0.12)),
                ("p2", 10.14, 20.0, away("1.5.9", 0.6)),
            ],
        )
    )

    engine.decide(TWO_BOTTLES)

    assert _lines(engine) == [("acct-1", 2, None)]


def _three_grabs() -> FusionEngine:
    """Return an engine with three shoppers whose reaches into plate 1.5.9
    overlap between t=9.1 and t=11.2."""
    engine = _engine(3)
    engine.add_poses(
        _poses(
            _grab("p1", "1.5.9", 9.1, 10.1),
            _grab("p2", "1.5.9", 9.8, 11.0),
            _grab("p3", "1.5.9", 9.9, 11.2),
        )
    )
    return engine


def test_more_grabs_than_units_flagged() -> None:
    # Three hands reach into the plate during a change of two bottles: one
    # of the three took nothing, and nothing shows which.
    engine = _three_grabs()

    engine.decide(TWO_BOTTLES)
    engine.finalise()

    lines = _lines(engine)
    assert sum(qty for _, qty, _ in lines) == 2
    assert {reason for _, _, reason in lines} == {AMBIGUOUS_SHOPPER}
    charged = [line for receipt in engine.receipts() for line in receipt.items]
    assert charged
    assert all(line.needs_review for line in charged)


def test_three_units_three_reaches_split() -> None:
    engine = _three_grabs()

    engine.decide(THREE_BOTTLES)

    assert _lines(engine) == [
        ("acct-1", 1, None),
        ("acct-2", 1, None),
        ("acct-3", 1, None),
    ]


def test_three_units_two_reaches_flagged() -> None:
    # Two hands lift three bottles in one merged change: each took at least
    # one, and nothing shows who took the third.
    engine = _engine(2)
    engine.add_poses(
        _poses(_grab("p1", "1.5.9", 9.1, 10.1), _grab("p2", "1.5.9", 9.9, 11.0))
    )

    engine.decide(THREE_BOTTLES)

    lines = _lines(engine)
    assert sum(qty for _, qty, _ in lines) == 3
    assert {account for account, _, _ in lines} == {"acct-1", "acct-2"}
    assert {reason for _, _, reason in lines} == {AMBIGUOUS_SHOPPER}


def test_hand_out_of_reach_names_no_plate() -> None:
    # p1 lifts two Fire bags with its hand on plate 2.5.5, and each bag
    # rested on its own plate. p2's wrist hovers 20 cm above plate 2.5.4,
    # closer to that plate's centre than p1's, but never low enough to
    # grab: the take must not be split between them.
    engine = _engine(2)
    engine.add_poses(
        _poses(
            _grab("p1", "2.5.5", 9.0, 11.0),
            [
                ("p2", 0.0, 8.0, away("2.5.4", 0.6)),
                ("p2", 8.0, 12.0, above("2.5.4", 0.2)),
                ("p2", 12.0, 20.0, away("2.5.4", 0.6)),
            ],
        )
    )
    event = ShelfEvent(
        (
            PlateChange("2.5.4", 9.5, 10.5, -110.0, 0.5),
            PlateChange("2.5.5", 9.5, 10.5, -101.0, 0.5),
        )
    )

    engine.decide(event)

    assert _lines(engine) == [("acct-1", 2, None)]
    assert engine.decided[0].sku == FIRE


def test_negative_grab_dwell_rejected() -> None:
    with pytest.raises(ValueError, match="grab_min_dwell_s must not be negative"):
        FusionParams(grab_min_dwell_s=-0.1)
