"""Grouping of plate changes into shelf events, and detection over a store."""

from __future__ import annotations

import numpy as np
import pytest
from weight_signals import add_step, quiet_trace

from walkout.recording.model import Plate, Store, StoreInfo, WeightReadings
from walkout.sensing.detector import DetectorParams, detect_events, group_changes
from walkout.sensing.model import PlateChange


def make_store() -> Store:
    plates = {}
    for shelf in (1, 2):
        for number in range(1, 7):
            plate_id = f"1.{shelf}.{number}"
            plates[plate_id] = Plate(
                plate_id, 1, shelf, number, (0.1 * number, 0.0, shelf), (0.1, 0.4)
            )
    return Store(StoreInfo("test", "Test", "USD"), {}, plates, [])


def change(
    plate: str, t_start: float, delta_g: float, width: float = 0.3
) -> PlateChange:
    return PlateChange(plate, t_start, t_start + width, delta_g, 1.0)


def test_product_on_two_plates_is_one_event() -> None:
    changes = [change("1.1.3", 10.0, -40.0), change("1.1.4", 10.1, -60.0)]

    events = group_changes(changes, make_store())

    assert len(events) == 1
    assert sorted(events[0].plates) == ["1.1.3", "1.1.4"]
    assert events[0].delta_g == pytest.approx(-100.0)


def test_neighbours_chain_over_three_plates() -> None:
    changes = [
        change("1.1.3", 10.0, -18.0),
        change("1.1.5", 10.4, -26.0),
        change("1.1.4", 10.2, -57.0),
    ]

    events = group_changes(changes, make_store())

    assert len(events) == 1
    assert sorted(events[0].plates) == ["1.1.3", "1.1.4", "1.1.5"]
    assert events[0].main_plate == "1.1.4"


def test_non_neighbours_stay_apart() -> None:
    changes = [change("1.1.1", 10.0, -40.0), change("1.1.5", 10.0, -60.0)]

    events = group_changes(changes, make_store())

    assert len(events) == 2


def test_other_shelf_stays_apart() -> None:
    changes = [change("1.1.3", 10.0, -40.0), change("1.2.3", 10.0, -60.0)]

    events = group_changes(changes, make_store())

    assert len(events) == 2


def test_same_plate_never_merges() -> None:
    changes = [
        change("1.1.3", 10.0, -40.0, width=1.0),
        change("1.1.3", 10.5, -40.0, width=1.0),
        change("1.1.4", 10.4, -30.0, width=1.0),
    ]

    events = group_changes(changes, make_store())

    assert len(events) == 2
    for event in events:
        assert len(set(event.plates)) == len(event.plates)


def test_tolerance_bounds_neighbour_merge() -> None:
    changes = [change("1.1.3", 10.0, -40.0), change("1.1.4", 11.0, -60.0)]
    store = make_store()

    assert (
        len(group_changes(changes, store, DetectorParams(group_tolerance_s=0.5))) == 2
    )
    assert (
        len(group_changes(changes, store, DetectorParams(group_tolerance_s=0.8))) == 1
    )


def test_events_ordered_by_time() -> None:
    changes = [change("1.2.1", 20.0, 50.0), change("1.1.6", 5.0, -70.0)]

    events = group_changes(changes, make_store())

    assert [event.t_start for event in events] == [5.0, 20.0]


def test_unknown_plate_raises() -> None:
    with pytest.raises(ValueError, match=r"'9\.9\.9'.*store\.json"):
        group_changes([change("9.9.9", 1.0, -40.0)], make_store())


def test_detect_events_over_store() -> None:
    traces = {}
    for index, plate in enumerate(("1.1.2", "1.1.3", "1.1.6", "1.2.2")):
        traces[plate] = quiet_trace(seed=index)
    add_step(*traces["1.1.2"], 10.0, -30.0)
    add_step(*traces["1.1.3"], 10.0, -70.0)
    add_step(*traces["1.1.6"], 20.0, 500.0)
    plate_ids = tuple(traces)
    weights = WeightReadings(
        plate_ids=plate_ids,
        t=np.concatenate([traces[plate][0] for plate in plate_ids]),
        plate=np.repeat(
            np.arange(len(plate_ids), dtype=np.int32),
            [traces[plate][0].size for plate in plate_ids],
        ),
        g=np.concatenate([traces[plate][1] for plate in plate_ids]),
    )

    events = detect_events(weights, make_store())

    assert len(events) == 2
    assert sorted(events[0].plates) == ["1.1.2", "1.1.3"]
    assert events[0].delta_g == pytest.approx(-100.0, abs=4.0)
    assert events[1].plates == ("1.1.6",)
    assert events[1].delta_g == pytest.approx(500.0, abs=3.0)
