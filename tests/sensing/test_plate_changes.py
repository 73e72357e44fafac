"""Plate change detection on scripted synthetic traces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest
from weight_signals import (
    add_impact,
    add_lean,
    add_spike,
    add_step,
    quiet_trace,
    series,
)

from walkout.recording.model import PlateSeries
from walkout.sensing.detector import DetectorParams, detect_plate_changes

# A change's time is checked against its window widened by this much.
TIME_TOLERANCE_S = 0.4


@dataclass(frozen=True)
class Expected:
    at_s: float
    delta_g: float
    tolerance_g: float = 3.0


def clean_step_down() -> PlateSeries:
    t, g = quiet_trace()
    add_step(t, g, 10.0, -105.5)
    return series("1.1.1", t, g)


def step_up() -> PlateSeries:
    t, g = quiet_trace()
    add_step(t, g, 12.0, 250.0)
    return series("1.1.1", t, g)


def noise_only() -> PlateSeries:
    t, g = quiet_trace(noise_g=3.0, seed=1)
    return series("1.1.1", t, g)


def single_spike() -> PlateSeries:
    t, g = quiet_trace()
    add_spike(t, g, 10.0, [400.0])
    return series("1.1.1", t, g)


def spike_burst() -> PlateSeries:
    t, g = quiet_trace()
    add_spike(t, g, 10.0, [300.0, -250.0, 280.0, -200.0])
    return series("1.1.1", t, g)


def lean_returns() -> PlateSeries:
    t, g = quiet_trace()
    add_lean(t, g, 10.0, 12.5, 800.0)
    return series("1.1.1", t, g)


def impact_then_settle() -> PlateSeries:
    t, g = quiet_trace()
    add_impact(t, g, 10.0, 340.0, overshoot_g=150.0)
    return series("1.1.1", t, g)


def slow_drift() -> PlateSeries:
    t, g = quiet_trace(600.0)
    g += 3.0 * (t - t[0]) / 60.0
    return series("1.1.1", t, g)


def gap_with_change() -> PlateSeries:
    t, g = quiet_trace()
    add_step(t, g, 11.5, -200.0)
    keep = (t < t[0] + 10.0) | (t > t[0] + 13.0)
    return series("1.1.1", t[keep], g[keep])


def gap_without_change() -> PlateSeries:
    t, g = quiet_trace()
    keep = (t < t[0] + 10.0) | (t > t[0] + 13.0)
    return series("1.1.1", t[keep], g[keep])


def two_takes_apart() -> PlateSeries:
    t, g = quiet_trace()
    add_step(t, g, 10.0, -150.0)
    add_step(t, g, 13.0, -150.0)
    return series("1.1.1", t, g)


def several_units() -> PlateSeries:
    t, g = quiet_trace(level_g=4500.0)
    add_step(t, g, 10.0, -3 * 538.0, ramp_s=0.6)
    return series("1.1.1", t, g)


def small_item_noisy() -> PlateSeries:
    t, g = quiet_trace(noise_g=3.0, seed=2)
    add_step(t, g, 15.0, -25.0)
    return series("1.1.1", t, g)


CASES: list[tuple[str, Callable[[], PlateSeries], list[Expected]]] = [
    ("clean step down", clean_step_down, [Expected(10.15, -105.5)]),
    ("step up", step_up, [Expected(12.15, 250.0)]),
    ("noise only", noise_only, []),
    ("single spike", single_spike, []),
    ("burst of spikes", spike_burst, []),
    ("lean that returns", lean_returns, []),
    ("impact then settle", impact_then_settle, [Expected(10.3, 340.0)]),
    ("slow drift over 10 min", slow_drift, []),
    ("gap with change", gap_with_change, [Expected(11.5, -200.0)]),
    ("gap without change", gap_without_change, []),
    (
        "two takes 3 s apart",
        two_takes_apart,
        [Expected(10.15, -150.0), Expected(13.15, -150.0)],
    ),
    ("take of several units", several_units, [Expected(10.3, -1614.0)]),
    ("small item under 3 g noise", small_item_noisy, [Expected(15.15, -25.0)]),
]


@pytest.mark.parametrize(
    ("label", "build", "expected"), CASES, ids=[case[0] for case in CASES]
)
def test_scripted_trace(
    label: str, build: Callable[[], PlateSeries], expected: list[Expected]
) -> None:
    plate_series = build()
    origin = float(plate_series.t[0])

    changes = detect_plate_changes(plate_series)

    assert len(changes) == len(expected), f"{label}: {changes}"
    for change, want in zip(changes, expected, strict=True):
        assert change.plate == plate_series.plate
        assert np.sign(change.delta_g) == np.sign(want.delta_g)
        assert change.delta_g == pytest.approx(want.delta_g, abs=want.tolerance_g)
        assert change.t_start <= change.t_end
        assert change.t_start - TIME_TOLERANCE_S <= origin + want.at_s
        assert origin + want.at_s <= change.t_end + TIME_TOLERANCE_S
        assert DetectorParams().min_sd_g <= change.sd_g < 3.0


def test_gap_change_window_spans_gap() -> None:
    plate_series = gap_with_change()
    origin = float(plate_series.t[0])

    (change,) = detect_plate_changes(plate_series)

    assert change.t_start <= origin + 10.0
    assert change.t_end >= origin + 13.0


def test_threshold_hides_smaller_change() -> None:
    t, g = quiet_trace()
    add_step(t, g, 10.0, -25.0)

    assert (
        detect_plate_changes(series("1.1.1", t, g), DetectorParams(min_delta_g=40.0))
        == []
    )


def test_noise_level_sets_standard_error() -> None:
    t, g = quiet_trace(noise_g=4.0, seed=3)
    add_step(t, g, 10.0, -300.0)

    (change,) = detect_plate_changes(series("1.1.1", t, g))

    # Two levels of 60 readings each with 4 g noise: sqrt(2 * 16 / 60) = 0.73 g.
    assert change.sd_g == pytest.approx(0.73, abs=0.15)


def test_non_finite_weights_count_as_missing() -> None:
    t, g = quiet_trace()
    add_step(t, g, 10.0, -120.0)
    g[300:320] = np.nan

    (change,) = detect_plate_changes(series("1.1.1", t, g))

    assert change.delta_g == pytest.approx(-120.0, abs=3.0)


def test_short_series_has_no_change() -> None:
    assert detect_plate_changes(series("1.1.1", np.array([1.0]), np.array([5.0]))) == []
    assert detect_plate_changes(series("1.1.1", np.empty(0), np.empty(0))) == []


def test_time_going_back_raises() -> None:
    t, g = quiet_trace(5.0)
    t[100] = t[98]

    with pytest.raises(ValueError, match=r"plate '1\.1\.1'.*sort the readings"):
        detect_plate_changes(series("1.1.1", t, g))


def test_length_mismatch_raises() -> None:
    t, g = quiet_trace(5.0)

    with pytest.raises(ValueError, match="same length"):
        detect_plate_changes(series("1.1.1", t, g[:-1]))


def test_slow_sampling_needs_larger_gap_limit() -> None:
    t = np.arange(100) * 0.5
    g = np.zeros(100)

    with pytest.raises(ValueError, match="max_gap_s"):
        detect_plate_changes(series("1.1.1", t, g))


@pytest.mark.parametrize("field", ["min_delta_g", "max_gap_s", "min_sd_g"])
def test_negative_parameter_raises(field: str) -> None:
    with pytest.raises(ValueError, match=rf"DetectorParams\.{field}"):
        DetectorParams(**{field: -1.0})
