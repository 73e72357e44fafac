"""Timelines: where each simulated body is and when each hand reaches a shelf.

A timeline turns one ``ShopperPlan`` into body keyframes (walking through
the aisles, standing at shelves) and reach motions, with human timing drawn
from a random generator. Sensor streams are rendered from timelines later,
so everything here is true motion without sensor error.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from walkout.recording.model import FloatArray, Plate, Store, Zone
from walkout.sim.plan import (
    HandOver,
    Lean,
    LoseTrack,
    PutBack,
    ReachAction,
    Restock,
    ShopperPlan,
    Take,
    Wait,
    WalkTo,
)

logger = logging.getLogger(__name__)

Point = tuple[float, float]

WRIST_ABOVE_PLATE_M = 0.04
"""Height of a reaching wrist above the plate surface at the plate front."""

HAND_OVER_HEIGHT_M = 1.05
"""Height of the wrists where one person hands an item to another."""


@dataclass(frozen=True)
class MotionModel:
    """Timing and geometry of walking and reaching (estimates of ordinary shopping)."""

    stand_off_m: float = 0.45
    """Distance from a shelf front to the body centre of a person reaching it."""

    shoulder_offset_m: float = 0.18
    """Sideways distance from the body centre to the reaching hand's shoulder."""

    look_s_range: tuple[float, float] = (0.3, 1.2)
    """Pause at a shelf before a reach starts."""

    reach_move_s_range: tuple[float, float] = (0.4, 0.6)
    """Time for a wrist to travel between the hip and the plate front, each way."""

    dwell_s_range: tuple[float, float] = (1.0, 3.0)
    """Time a wrist stays at the plate front during one reach."""

    touch_delay_s_range: tuple[float, float] = (0.1, 0.3)
    """Time from the wrist's arrival at the plate until it touches the items."""

    press_s_range: tuple[float, float] = (0.1, 0.3)
    """Time from the touch until the load steps, while the hand presses or lowers
    an item (estimate)."""

    settle_s_range: tuple[float, float] = (0.5, 1.5)
    """Time from the load step until the plate rests, as in the two labelled
    takes of NanoStore test case cps-test-01."""

    hold_after_mid_s: float = 0.4
    """Minimum time the wrist stays at the plate after the middle of the weight
    change, so the tracker records the hand there when the change happens."""

    obstacle_margin_m: float = 0.25
    """Clearance kept between a walking body centre and a gondola."""

    aisle_margin_m: float = 0.5
    """Distance beyond the outermost gondola of the corridor that walks around it."""

    lean_ramp_s_range: tuple[float, float] = (0.2, 0.5)
    """Time for a lean or press to build up to its full load, and to release it
    (estimate)."""

    hand_over_s_range: tuple[float, float] = (0.6, 1.2)
    """Time both hands stay together while an item changes hands (estimate)."""


@dataclass(frozen=True)
class Reach:
    """One reach of one hand into one plate or towards another person.

    The wrist leaves the hip at ``t_out``, reaches ``target`` at
    ``t_arrive``, leaves it at ``t_leave`` and is back at ``t_back``.
    ``t_touch``, ``t_step`` and ``t_settled`` time the load change it
    causes. A lean builds up from ``t_touch`` to ``t_step`` and lets go at
    ``t_settled``, and a hand-over happens from ``t_touch`` to ``t_settled``.
    ``track`` is the track id the tracker reports at the reach, and
    ``person`` the plan's first track id, which stays the same after a lost
    track. ``plate`` is None for a hand-over.
    """

    track: str
    person: str
    account: str
    action: ReachAction
    plate: str | None
    hand: str
    target: tuple[float, float, float]
    t_out: float
    t_arrive: float
    t_touch: float
    t_step: float
    t_settled: float
    t_leave: float
    t_back: float

    @property
    def t_mid(self) -> float:
        """Return the middle of the weight change this reach causes."""
        return 0.5 * (self.t_touch + self.t_settled)

    def shifted(self, dt: float) -> Reach:
        return replace(
            self,
            t_out=self.t_out + dt,
            t_arrive=self.t_arrive + dt,
            t_touch=self.t_touch + dt,
            t_step=self.t_step + dt,
            t_settled=self.t_settled + dt,
            t_leave=self.t_leave + dt,
            t_back=self.t_back + dt,
        )


@dataclass
class Timeline:
    """True motion of one tracked person from entry to exit.

    ``key_t`` and ``key_xy`` are body keyframes, joined by straight lines.
    ``key_heading`` is the heading in radians (0 = +x) from each keyframe
    to the next. ``labels`` lists when the tracker starts reporting the
    person under each track id, and ``hidden`` the spans in which the
    tracker reports nothing for them.
    """

    plan: ShopperPlan
    key_t: FloatArray
    key_xy: FloatArray
    key_heading: FloatArray
    reaches: list[Reach] = field(default_factory=list)
    labels: list[tuple[float, str]] = field(default_factory=list)
    hidden: list[tuple[float, float]] = field(default_factory=list)

    @property
    def enter_t(self) -> float:
        return float(self.key_t[0])

    @property
    def exit_t(self) -> float:
        return float(self.key_t[-1])

    @property
    def tracks(self) -> list[str]:
        """Return every track id the tracker reports for this person, in order."""
        return [self.plan.track] + [track for _, track in self.labels]

    def track_at(self, times: FloatArray) -> npt.NDArray[np.object_]:
        """Return the reported track id at each of ``times``, ignoring ``hidden``."""
        names = np.asarray(self.tracks, dtype=object)
        starts = np.asarray([start for start, _ in self.labels], dtype=np.float64)
        index = np.searchsorted(starts, times, side="right")
        result: npt.NDArray[np.object_] = names[index]
        return result

    def visible(self, times: FloatArray) -> npt.NDArray[np.bool_]:
        """Return whether the tracker reports this person at each of ``times``."""
        shown = np.ones(times.shape, dtype=bool)
        for start, end in self.hidden:
            shown &= (times < start) | (times >= end)
        return shown

    def shifted(self, dt: float) -> Timeline:
        """Return this timeline started ``dt`` seconds later."""
        plan = replace(self.plan, enter_t=self.plan.enter_t + dt)
        return Timeline(
            plan=plan,
            key_t=self.key_t + dt,
            key_xy=self.key_xy,
            key_heading=self.key_heading,
            reaches=[reach.shifted(dt) for reach in self.reaches],
            labels=[(start + dt, track) for start, track in self.labels],
            hidden=[(start + dt, end + dt) for start, end in self.hidden],
        )


# --- store geometry ----------------------------------------------------------


@dataclass(frozen=True)
class Footprint:
    """Floor rectangle of one gondola, with the side its shelves face."""

    gondola: int
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    depth_axis: int
    facing: int

    def contains(self, xy: Point, margin: float) -> bool:
        return (
            self.x_range[0] - margin <= xy[0] <= self.x_range[1] + margin
            and self.y_range[0] - margin <= xy[1] <= self.y_range[1] + margin
        )


def zone_center(zone: Zone) -> Point:
    """Return the mean of a zone's polygon corners."""
    xs = [corner[0] for corner in zone.polygon]
    ys = [corner[1] for corner in zone.polygon]
    return (sum(xs) / len(xs), sum(ys) / len(ys))


class StoreGeometry:
    """Gondola footprints, the door and walking routes of a store."""

    def __init__(self, store: Store, motion: MotionModel) -> None:
        self.store = store
        self.motion = motion
        self.footprints = self._footprints(store, motion)
        self.entry = self._zone_point(store, "entry")
        self.exit = self._zone_point(store, "exit")

    @staticmethod
    def _zone_point(store: Store, kind: str) -> Point:
        for zone in store.zones:
            if zone.kind == kind:
                return zone_center(zone)
        raise ValueError(
            f"store {store.info.id!r} has no {kind} zone; add a zone with kind {kind!r}"
        )

    @staticmethod
    def _footprints(store: Store, motion: MotionModel) -> dict[int, Footprint]:
        by_gondola: dict[int, list[Plate]] = {}
        for plate in store.plates.values():
            by_gondola.setdefault(plate.gondola, []).append(plate)

        rough: dict[int, tuple[tuple[float, float], tuple[float, float], int]] = {}
        for gondola, plates in by_gondola.items():
            xs = [p.center[0] for p in plates]
            ys = [p.center[1] for p in plates]
            half_x = plates[0].size[0] / 2
            half_y = plates[0].size[1] / 2
            depth_axis = 1 if plates[0].size[1] >= plates[0].size[0] else 0
            rough[gondola] = (
                (min(xs) - half_x, max(xs) + half_x),
                (min(ys) - half_y, max(ys) + half_y),
                depth_axis,
            )

        # Shelves face the side with more free floor in front of them.
        footprints: dict[int, Footprint] = {}
        for gondola, (x_range, y_range, axis) in rough.items():
            center = ((x_range[0] + x_range[1]) / 2, (y_range[0] + y_range[1]) / 2)
            half_depth = (y_range if axis == 1 else x_range)[1] - center[axis]
            clearance: dict[int, float] = {}
            for facing in (-1, 1):
                probe = list(center)
                probe[axis] += facing * (half_depth + motion.stand_off_m)
                clearance[facing] = min(
                    (
                        math.dist(probe, other.center[:2])
                        for other in store.plates.values()
                        if other.gondola != gondola
                    ),
                    default=math.inf,
                )
            facing = max(clearance, key=lambda side: clearance[side])
            footprints[gondola] = Footprint(gondola, x_range, y_range, axis, facing)
        return footprints

    def front_point(self, plate_id: str) -> tuple[float, float, float]:
        """Return the middle of a plate's front edge, at the plate's top surface."""
        plate = self.store.plates[plate_id]
        footprint = self.footprints[plate.gondola]
        point = list(plate.center)
        half_depth = plate.size[footprint.depth_axis] / 2
        point[footprint.depth_axis] += footprint.facing * half_depth
        return (point[0], point[1], point[2])

    def reach_point(self, plate_id: str) -> tuple[float, float, float]:
        """Return where a hand grabs on a plate: the front middle of the facing
        that covers it, since an item spanning two plates is held in its middle."""
        plates = next(
            (
                facing.plates
                for facing in self.store.planogram
                if plate_id in facing.plates
            ),
            (plate_id,),
        )
        fronts = np.asarray([self.front_point(plate) for plate in plates])
        middle = fronts.mean(axis=0)
        return (float(middle[0]), float(middle[1]), float(middle[2]))

    def normal(self, plate_id: str) -> Point:
        """Return the unit floor vector pointing from a plate's front into the aisle."""
        footprint = self.footprints[self.store.plates[plate_id].gondola]
        vector = [0.0, 0.0]
        vector[footprint.depth_axis] = float(footprint.facing)
        return (vector[0], vector[1])

    def stand_point(self, plate_id: str, hand: str) -> tuple[Point, float]:
        """Return the body position and heading for reaching a plate with ``hand``."""
        front = self.reach_point(plate_id)
        normal = self.normal(plate_id)
        heading = math.atan2(-normal[1], -normal[0])
        right = (math.sin(heading), -math.cos(heading))
        side = 1.0 if hand == "right" else -1.0
        offset = self.motion.shoulder_offset_m * side
        stand = (
            front[0] + normal[0] * self.motion.stand_off_m - right[0] * offset,
            front[1] + normal[1] * self.motion.stand_off_m - right[1] * offset,
        )
        return stand, heading

    def _blocked(self, a: Point, b: Point) -> bool:
        length = math.dist(a, b)
        steps = max(2, int(length / 0.05))
        for fraction in np.linspace(0.0, 1.0, steps):
            point = (a[0] + (b[0] - a[0]) * fraction, a[1] + (b[1] - a[1]) * fraction)
            for footprint in self.footprints.values():
                if footprint.contains(point, self.motion.obstacle_margin_m):
                    return True
        return False

    def _corridors(self, axis: int) -> list[float]:
        spans = sorted(
            (fp.x_range if axis == 0 else fp.y_range) for fp in self.footprints.values()
        )
        margin = self.motion.aisle_margin_m + self.motion.obstacle_margin_m
        corridors = [spans[0][0] - margin, max(end for _, end in spans) + margin]
        reach_end = spans[0][1]
        for start, end in spans[1:]:
            if start > reach_end:
                corridors.append((reach_end + start) / 2)
            reach_end = max(reach_end, end)
        return corridors

    def route(self, a: Point, b: Point) -> list[Point]:
        """Return the corners of a walk from ``a`` to ``b`` that avoids the gondolas."""
        if not self._blocked(a, b):
            return [a, b]
        candidates: list[list[Point]] = []
        for value in self._corridors(0):
            candidates.append([a, (value, a[1]), (value, b[1]), b])
        for value in self._corridors(1):
            candidates.append([a, (a[0], value), (b[0], value), b])
        clear = [
            path
            for path in candidates
            if not any(self._blocked(p, q) for p, q in itertools.pairwise(path))
        ]
        if not clear:
            logger.warning("no clear route from %s to %s; walking straight", a, b)
            return [a, b]
        return min(clear, key=path_length)


def path_length(path: list[Point]) -> float:
    return sum(math.dist(p, q) for p, q in itertools.pairwise(path))


# --- building a timeline -------------------------------------------------------


class _TimelineBuilder:
    def __init__(
        self,
        geometry: StoreGeometry,
        plan: ShopperPlan,
        motion: MotionModel,
        rng: np.random.Generator,
    ) -> None:
        self.geometry = geometry
        self.plan = plan
        self.motion = motion
        self.rng = rng
        self.t = plan.enter_t
        self.xy = geometry.entry
        self.heading = math.pi / 2
        self.key_t = [self.t]
        self.key_xy = [self.xy]
        self.key_heading = [self.heading]
        self.reaches: list[Reach] = []
        self.track = plan.track
        self.labels: list[tuple[float, str]] = []
        self.hidden: list[tuple[float, float]] = []

    def _key(self, heading: float | None = None) -> None:
        self.key_t.append(self.t)
        self.key_xy.append(self.xy)
        self.key_heading.append(self.heading if heading is None else heading)

    def walk(self, target: Point) -> None:
        if math.dist(self.xy, target) < 0.02:
            return
        path = self.geometry.route(self.xy, target)
        for corner in path[1:]:
            distance = math.dist(self.xy, corner)
            if distance < 1e-6:
                continue
            self.heading = math.atan2(corner[1] - self.xy[1], corner[0] - self.xy[0])
            self.key_heading[-1] = self.heading
            self.t += distance / self.plan.speed_mps
            self.xy = corner
            self._key()

    def wait(self, seconds: float) -> None:
        self.t += seconds
        self._key()

    def lose_track(self, action: LoseTrack) -> None:
        self.hidden.append((self.t, self.t + action.seconds))
        self.labels.append((self.t + action.seconds, action.new_track))
        self.track = action.new_track

    def _add_reach(
        self,
        action: ReachAction,
        plate: str | None,
        target: tuple[float, float, float],
        times: tuple[float, float, float, float, float, float, float],
    ) -> None:
        t_out, t_arrive, t_touch, t_step, t_settled, t_leave, t_back = times
        self.reaches.append(
            Reach(
                track=self.track,
                person=self.plan.track,
                account=self.plan.account,
                action=action,
                plate=plate,
                hand=action.hand,
                target=target,
                t_out=t_out,
                t_arrive=t_arrive,
                t_touch=t_touch,
                t_step=t_step,
                t_settled=t_settled,
                t_leave=t_leave,
                t_back=t_back,
            )
        )
        self.t = t_back + self.rng.uniform(0.2, 0.6)
        self._key()

    def _shelf_target(self, plate: str) -> tuple[float, float, float]:
        front = self.geometry.reach_point(plate)
        along = self.rng.uniform(-0.03, 0.03)
        normal = self.geometry.normal(plate)
        return (
            front[0] + along * abs(normal[1]),
            front[1] + along * abs(normal[0]),
            front[2] + WRIST_ABOVE_PLATE_M,
        )

    def lean(self, action: Lean) -> None:
        stand, heading = self.geometry.stand_point(action.plate, action.hand)
        self.walk(stand)
        self.heading = heading
        self.key_heading[-1] = heading

        uniform = self.rng.uniform
        motion = self.motion
        t_out = self.t + uniform(*motion.look_s_range)
        t_arrive = t_out + uniform(*motion.reach_move_s_range)
        t_touch = t_arrive + uniform(*motion.touch_delay_s_range)
        t_step = t_touch + uniform(*motion.lean_ramp_s_range)
        t_settled = t_touch + max(action.seconds, t_step - t_touch)
        t_leave = t_settled + uniform(*motion.lean_ramp_s_range)
        t_back = t_leave + uniform(*motion.reach_move_s_range)
        times = (t_out, t_arrive, t_touch, t_step, t_settled, t_leave, t_back)
        self._add_reach(action, action.plate, self._shelf_target(action.plate), times)

    def hand_over(self, action: HandOver) -> None:
        dx = action.toward[0] - self.xy[0]
        dy = action.toward[1] - self.xy[1]
        self.heading = math.atan2(dy, dx)
        self.key_heading[-1] = self.heading

        uniform = self.rng.uniform
        motion = self.motion
        t_out = self.t + uniform(*motion.look_s_range)
        t_arrive = t_out + uniform(*motion.reach_move_s_range)
        t_touch = t_arrive + uniform(*motion.touch_delay_s_range)
        t_settled = t_touch + uniform(*motion.hand_over_s_range)
        t_leave = t_settled + uniform(0.1, 0.3)
        t_back = t_leave + uniform(*motion.reach_move_s_range)
        target = (
            0.5 * (self.xy[0] + action.toward[0]),
            0.5 * (self.xy[1] + action.toward[1]),
            HAND_OVER_HEIGHT_M,
        )
        times = (t_out, t_arrive, t_touch, t_touch, t_settled, t_leave, t_back)
        self._add_reach(action, None, target, times)

    def reach(self, action: Take | PutBack | Restock) -> None:
        stand, heading = self.geometry.stand_point(action.plate, action.hand)
        self.walk(stand)
        self.heading = heading
        self.key_heading[-1] = heading

        uniform = self.rng.uniform
        motion = self.motion
        t_out = self.t + uniform(*motion.look_s_range)
        t_arrive = t_out + uniform(*motion.reach_move_s_range)
        t_touch = t_arrive + uniform(*motion.touch_delay_s_range)
        t_step = t_touch + uniform(*motion.press_s_range)
        t_settled = t_step + uniform(*motion.settle_s_range)
        t_mid = 0.5 * (t_touch + t_settled)
        t_leave = max(
            t_arrive + uniform(*motion.dwell_s_range), t_mid + motion.hold_after_mid_s
        )
        t_back = t_leave + uniform(*motion.reach_move_s_range)
        times = (t_out, t_arrive, t_touch, t_step, t_settled, t_leave, t_back)
        self._add_reach(action, action.plate, self._shelf_target(action.plate), times)

    def build(self) -> Timeline:
        for action in self.plan.actions:
            if isinstance(action, WalkTo):
                self.walk(action.xy)
            elif isinstance(action, Wait):
                self.wait(action.seconds)
            elif isinstance(action, LoseTrack):
                self.lose_track(action)
            elif isinstance(action, Lean):
                self.lean(action)
            elif isinstance(action, HandOver):
                self.hand_over(action)
            else:
                self.reach(action)
        self.walk(self.geometry.exit)
        return Timeline(
            plan=self.plan,
            key_t=np.asarray(self.key_t, dtype=np.float64),
            key_xy=np.asarray(self.key_xy, dtype=np.float64),
            key_heading=np.asarray(self.key_heading, dtype=np.float64),
            reaches=self.reaches,
            labels=self.labels,
            hidden=self.hidden,
        )


def build_timeline(
    geometry: StoreGeometry,
    plan: ShopperPlan,
    motion: MotionModel,
    rng: np.random.Generator,
) -> Timeline:
    """Turn a plan into true body motion and reaches, ending at the exit zone."""
    return _TimelineBuilder(geometry, plan, motion, rng).build()
