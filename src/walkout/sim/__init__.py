"""Store simulator: the built-in store, shoppers, and sensor streams with truth.

The engine never imports this package. ``simulate`` renders a named
scenario into an in-memory ``Recording``; ``simulate_to`` also writes it.
"""

from __future__ import annotations

from walkout.sim.loadcell import (
    DriftBurst,
    LoadCellModel,
    PlateFault,
    PressLoad,
    ReadingGap,
    SpikeBurst,
)
from walkout.sim.plan import (
    Align,
    HandOver,
    Lean,
    LoseTrack,
    PutBack,
    Restock,
    ShopperPlan,
    Take,
    Wait,
    WalkTo,
)
from walkout.sim.poses import PoseModel
from walkout.sim.render import Rendered, SimulationError, SimulationSettings, render
from walkout.sim.scenarios import SCENARIOS, Scenario
from walkout.sim.simulate import simulate, simulate_rendered, simulate_to
from walkout.sim.store import builtin_store
from walkout.sim.timeline import MotionModel

__all__ = [
    "SCENARIOS",
    "Align",
    "DriftBurst",
    "HandOver",
    "Lean",
    "LoadCellModel",
    "LoseTrack",
    "MotionModel",
    "PlateFault",
    "PoseModel",
    "PressLoad",
    "PutBack",
    "ReadingGap",
    "Rendered",
    "Restock",
    "Scenario",
    "ShopperPlan",
    "SimulationError",
    "SimulationSettings",
    "SpikeBurst",
    "Take",
    "Wait",
    "WalkTo",
    "builtin_store",
    "render",
    "simulate",
    "simulate_rendered",
    "simulate_to",
]
