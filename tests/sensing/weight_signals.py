"""Synthetic load-cell traces for detector tests: a quiet level plus events."""

from __future__ import annotations

import numpy as np

from walkout.recording.model import PlateSeries

RATE_HZ = 60.0


def quiet_trace(
    duration_s: float = 30.0,
    *,
    level_g: float = 1500.0,
    noise_g: float = 1.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return times and readings of a plate at rest with Gaussian noise."""
    rng = np.random.default_rng(seed)
    t = 1000.0 + np.arange(int(duration_s * RATE_HZ)) / RATE_HZ
    g = level_g + rng.normal(0.0, noise_g, t.size)
    return t, g


def add_step(
    t: np.ndarray, g: np.ndarray, at_s: float, delta_g: float, ramp_s: float = 0.3
) -> None:
    """Add a change of ``delta_g`` that ramps in over ``ramp_s`` from ``at_s``."""
    start = t[0] + at_s
    g += delta_g * np.clip((t - start) / ramp_s, 0.0, 1.0)


def add_spike(
    t: np.ndarray, g: np.ndarray, at_s: float, heights_g: list[float]
) -> None:
    """Add consecutive single-sample spikes starting at ``at_s``."""
    first = int(np.searchsorted(t, t[0] + at_s))
    g[first : first + len(heights_g)] += heights_g


def add_lean(
    t: np.ndarray, g: np.ndarray, start_s: float, end_s: float, height_g: float
) -> None:
    """Add a press that holds ``height_g`` between two times and then lets go."""
    add_step(t, g, start_s, height_g, ramp_s=0.2)
    add_step(t, g, end_s, -height_g, ramp_s=0.2)


def add_impact(
    t: np.ndarray, g: np.ndarray, at_s: float, delta_g: float, overshoot_g: float
) -> None:
    """Add an item landing: a step with a ringing overshoot that dies in ~1 s."""
    add_step(t, g, at_s, delta_g, ramp_s=0.05)
    since = t - (t[0] + at_s)
    ringing = overshoot_g * np.exp(-since / 0.25) * np.cos(2 * np.pi * 4.0 * since)
    g += np.where(since >= 0, ringing, 0.0)


def series(plate: str, t: np.ndarray, g: np.ndarray) -> PlateSeries:
    return PlateSeries(plate, t.astype(np.float64), g.astype(np.float64))
