"""Entry points: simulate a named scenario into memory or onto disk."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from walkout.recording.model import Recording, Store
from walkout.sim.render import Rendered, SimulationSettings, render
from walkout.sim.scenarios import SCENARIOS

logger = logging.getLogger(__name__)


def simulate_rendered(
    store: Store,
    scenario: str,
    seed: int,
    settings: SimulationSettings | None = None,
) -> Rendered:
    """Simulate ``scenario`` and keep the renderer's units and load events too."""
    try:
        entry = SCENARIOS[scenario]
    except KeyError:
        known = ", ".join(sorted(SCENARIOS))
        raise ValueError(
            f"unknown scenario {scenario!r}; choose one of: {known}"
        ) from None
    builder_rng = _builder_rng(seed)
    plans = entry.build(store, builder_rng)
    logger.info("scenario %s, seed %d: %d tracks", scenario, seed, len(plans))
    return render(
        store, plans, seed, settings, separate=entry.separate, faults=entry.faults
    )


def _builder_rng(seed: int) -> np.random.Generator:
    # A separate stream from the renderer's, so plan choices and sensor
    # noise can change independently.
    return np.random.default_rng([seed, 0x5CE4A210])


def simulate(store: Store, scenario: str, seed: int) -> Recording:
    """Simulate ``scenario`` in ``store``; the same seed gives the same recording."""
    return simulate_rendered(store, scenario, seed).recording


def simulate_to(
    out: Path, scenario: str, seed: int, store: Store | None = None
) -> Recording:
    """Simulate ``scenario`` (in the built-in store unless ``store`` is given) and
    write it as a recording folder at ``out``."""
    from walkout.recording import write_recording
    from walkout.sim.store import builtin_store

    recording = simulate(store or builtin_store(), scenario, seed)
    write_recording(recording, out)
    recording.path = out
    logger.info("wrote scenario %s, seed %d to %s", scenario, seed, out)
    return recording
