"""Shelf events and noise statistics of the real NanoStore recording cps-test-01."""

from __future__ import annotations

import numpy as np
import pytest

from walkout.recording.model import PlateSeries, Store, WeightReadings
from walkout.sensing.detector import detect_events
from walkout.sensing.noise_stats import measure_noise

# Hand-labelled takes of cps-test-01 (UNIX time): Taco Bell Fire (105.5 g)
# around 22:24:15 UTC and FIJI water (538 g) around 22:24:21 UTC.
TACO_BELL_T = 1580250255.0
FIJI_T = 1580250261.0


def as_readings(series_list: list[PlateSeries]) -> WeightReadings:
    plate_ids = tuple(series.plate for series in series_list)
    sizes = [series.t.size for series in series_list]
    return WeightReadings(
        plate_ids=plate_ids,
        t=np.concatenate([series.t for series in series_list]),
        plate=np.repeat(np.arange(len(plate_ids), dtype=np.int32), sizes),
        g=np.concatenate([series.g for series in series_list]),
    )


def test_all_plates_yield_two_takes(
    cps_test_01: tuple[list[PlateSeries], Store],
) -> None:
    series_list, store = cps_test_01
    assert len(series_list) == 348

    events = detect_events(as_readings(series_list), store)

    assert len(events) == 2, events
    taco, fiji = events

    assert sorted(taco.plates) == ["2.5.3", "2.5.4", "2.5.5"]
    assert taco.main_plate == "2.5.4"
    assert abs(taco.t_mid - TACO_BELL_T) < 2.0
    assert taco.delta_g == pytest.approx(-105.5, abs=10.0)
    per_plate = {change.plate: change.delta_g for change in taco.changes}
    assert per_plate["2.5.3"] == pytest.approx(-18.0, abs=4.0)
    assert per_plate["2.5.4"] == pytest.approx(-57.0, abs=4.0)
    assert per_plate["2.5.5"] == pytest.approx(-26.0, abs=4.0)

    assert fiji.main_plate == "1.5.10"
    assert set(fiji.plates) <= {"1.5.9", "1.5.10", "1.5.11"}
    assert abs(fiji.t_mid - FIJI_T) < 2.0
    main = next(change for change in fiji.changes if change.plate == "1.5.10")
    assert main.delta_g == pytest.approx(-561.0, abs=10.0)


def test_noise_stats_match_measured(
    cps_test_01: tuple[list[PlateSeries], Store],
) -> None:
    series_list, store = cps_test_01

    stats = measure_noise(series_list, store=store)

    assert 40 <= len(stats.dead_plates) <= 70
    low, median, high = stats.noise_sd_percentiles()
    assert 0.5 < low < median < high
    assert 0.7 < median < 1.6
    assert stats.sample_interval_s == pytest.approx(1 / 60, rel=0.01)
    assert stats.interval_sd_s < 0.003
    shifts = {shift.neighbour: shift for shift in stats.neighbour_shifts}
    assert {"1.5.9", "1.5.11"} <= set(shifts)
    for neighbour in ("1.5.9", "1.5.11"):
        assert shifts[neighbour].plate == "1.5.10"
        assert -12.0 < shifts[neighbour].shift_g < -4.0
        assert shifts[neighbour].ratio < 0.03
