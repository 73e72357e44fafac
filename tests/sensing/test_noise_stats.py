"""Noise measurement on synthetic plates with known noise, drift and spikes."""

from __future__ import annotations

import numpy as np
import pytest
from weight_signals import add_spike, quiet_trace, series

from walkout.sensing.noise_stats import NoiseParams, measure_noise


def test_known_noise_drift_and_spikes() -> None:
    t, g = quiet_trace(120.0, noise_g=2.0, seed=4)
    g += 1.5 * (t - t[0]) / 60.0
    for at_s in (20.0, 50.0, 90.0):
        add_spike(t, g, at_s, [60.0])
    dead_t, _ = quiet_trace(120.0)

    stats = measure_noise(
        [series("1.1.1", t, g), series("1.1.2", dead_t, np.full(dead_t.size, 812.0))]
    )

    assert stats.dead_plates == ("1.1.2",)
    (plate,) = stats.plates
    assert plate.noise_sd_g == pytest.approx(2.0, rel=0.1)
    assert plate.drift_g_per_min == pytest.approx(1.5, abs=0.3)
    assert len(plate.spike_sizes_g) == 3
    assert min(plate.spike_sizes_g) > 50.0
    assert stats.spikes_per_plate_min == pytest.approx(1.5, rel=0.1)
    assert plate.sample_interval_s == pytest.approx(1 / 60)
    assert plate.gap_count == 0


def test_gap_is_counted() -> None:
    t, g = quiet_trace(30.0)
    keep = (t < t[0] + 10.0) | (t > t[0] + 12.0)

    stats = measure_noise([series("1.1.1", t[keep], g[keep])])

    assert stats.plates[0].gap_count == 1


def test_negative_noise_parameter_raises() -> None:
    with pytest.raises(ValueError, match=r"NoiseParams\.spike_factor"):
        NoiseParams(spike_factor=-1.0)
