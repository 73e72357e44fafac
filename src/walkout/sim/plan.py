"""Shopper plans: what each simulated person intends to do, in order.

Scenarios build plans; the renderer turns them into walking, reaching,
plate loads, poses, gate rows and truth. A plan says nothing about sensor
noise or timing details, so new scenarios only combine these actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WalkTo:
    """Walk through the aisles to the floor point ``xy`` (metres)."""

    xy: tuple[float, float]


@dataclass(frozen=True)
class Wait:
    """Stand still for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Take:
    """Walk to ``plate``, reach into it and lift ``qty`` units in one grab.

    The units are whatever product actually lies on the plate at that moment.
    """

    plate: str
    qty: int = 1
    hand: str = "right"


@dataclass(frozen=True)
class PutBack:
    """Walk to ``plate`` and put down ``qty`` carried units of ``sku`` in one move.

    The plate need not be the one the units came from.
    """

    plate: str
    sku: str
    qty: int = 1
    hand: str = "right"


@dataclass(frozen=True)
class Restock:
    """Walk to ``plate`` and put ``qty`` new units of ``sku`` from the stock room
    on it in one move. Only staff accounts restock.
    """

    plate: str
    sku: str
    qty: int = 1
    hand: str = "right"


@dataclass(frozen=True)
class Lean:
    """Walk to ``plate`` and lean or press on its front for ``seconds``.

    ``grams`` is the extra load at its height: several kilograms for a body
    leaning on the shelf edge, tens to hundreds of grams for a hand pressing.
    A lean of 1 kg or more spreads over the plate and its shelf neighbours.
    The load returns to its old level when the person lets go.
    """

    plate: str
    grams: float
    seconds: float
    hand: str = "right"


@dataclass(frozen=True)
class HandOver:
    """Turn towards ``toward`` (a floor point) and hand ``qty`` carried units of
    ``sku`` to the person whose plan track is ``to_track``, who must stand there.

    The picker keeps paying for the units. If the receiver puts one back on a
    shelf, the put is credited to the receiver's account, and truth receipts
    never list a negative quantity.
    """

    to_track: str
    sku: str
    toward: tuple[float, float]
    qty: int = 1
    hand: str = "right"


@dataclass(frozen=True)
class LoseTrack:
    """The tracker loses this person for ``seconds`` while they carry on with the
    next actions, then reports them as ``new_track``, which has no enter row."""

    seconds: float
    new_track: str


Action = WalkTo | Wait | Take | PutBack | Restock | Lean | HandOver | LoseTrack
ReachAction = Take | PutBack | Restock | Lean | HandOver
"""Actions that move a hand to a shelf or to another person."""


@dataclass(frozen=True)
class Align:
    """Shift a plan in time so that its reach number ``reach`` (counting every
    ``ReachAction`` from 0) has its middle ``offset_s`` seconds after the middle
    of reach ``other_reach`` of the plan with track ``other_track``.

    The middle of a reach is the middle of the load change it causes, or of
    the lean or hand-over. An aligned plan is never delayed to keep accounts
    apart, so the scenario controls how close the two reaches come.
    """

    other_track: str
    other_reach: int
    reach: int
    offset_s: float


@dataclass
class ShopperPlan:
    """One tracked person: when they enter, on which account, and what they do.

    After the last action the person walks to the exit zone and leaves.
    ``speed_mps`` is the walking speed and ``height_m`` the head height.
    ``align``, when set, fixes this plan's timing relative to another plan.
    """

    track: str
    account: str
    enter_t: float
    actions: list[Action] = field(default_factory=list)
    speed_mps: float = 1.0
    height_m: float = 1.70
    align: Align | None = None
