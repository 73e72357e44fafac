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


Action = WalkTo | Wait | Take | PutBack


@dataclass
class ShopperPlan:
    """One tracked person: when they enter, on which account, and what they do.

    After the last action the person walks to the exit zone and leaves.
    ``speed_mps`` is the walking speed and ``height_m`` the head height.
    """

    track: str
    account: str
    enter_t: float
    actions: list[Action] = field(default_factory=list)
    speed_mps: float = 1.0
    height_m: float = 1.70
