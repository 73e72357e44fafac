"""Shelf events: what the load cells say happened, before any product or shopper."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PlateChange:
    """A settled change of one plate's load between two stable levels.

    ``delta_g`` is the new level minus the old one (negative for a take);
    ``sd_g`` is the standard error of that difference.
    """

    plate: str
    t_start: float
    t_end: float
    delta_g: float
    sd_g: float


@dataclass(frozen=True)
class ShelfEvent:
    """Simultaneous changes on neighbouring plates, treated as one take or put."""

    changes: tuple[PlateChange, ...]

    @property
    def t_start(self) -> float:
        return min(change.t_start for change in self.changes)

    @property
    def t_end(self) -> float:
        return max(change.t_end for change in self.changes)

    @property
    def t_mid(self) -> float:
        return 0.5 * (self.t_start + self.t_end)

    @property
    def delta_g(self) -> float:
        return sum(change.delta_g for change in self.changes)

    @property
    def sd_g(self) -> float:
        return math.sqrt(sum(change.sd_g**2 for change in self.changes))

    @property
    def plates(self) -> tuple[str, ...]:
        return tuple(change.plate for change in self.changes)

    @property
    def main_plate(self) -> str:
        """Return the plate that carried most of the change."""
        return max(self.changes, key=lambda change: abs(change.delta_g)).plate
