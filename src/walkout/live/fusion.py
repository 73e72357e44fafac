"""Fusion of one store's live input stream: detection, decisions, carts, ready visits.

``StoreFusion`` keeps no state in the database. It consumes the stored inputs of a
store in order (``apply``) and, after each one, decides the events that
became final (``step``). Because every decision depends only on the inputs
and the points where ``step`` ran, replaying the same inputs after a restart
rebuilds the same engine, carts and settled visits.

The fusion account of a visit is the visit id, so a group on one pass
shares one cart, and a restock visit's id is a staff account to fusion.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from walkout.fusion.carts import build_receipt
from walkout.fusion.decisions import DecidedEvent
from walkout.fusion.engine import FusionEngine
from walkout.fusion.params import DEFAULT_PARAMS, FusionParams
from walkout.fusion.products import SENSOR_FAULT
from walkout.fusion.shoppers import AccountMode, plate_distances
from walkout.recording.model import (
    GateEvent,
    Plate,
    PoseSamples,
    Receipt,
    Store,
    VisionObservations,
)
from walkout.sensing.detector import DetectorParams
from walkout.sensing.model import ShelfEvent

from .detection import DEFAULT_DETECTOR_PARAMS, StreamingDetector

logger = logging.getLogger(__name__)

SENSORS = "sensors"
GATE = "gate"

# Readings kept with a review line: this long before the event and after it.
TRACE_BEFORE_S = 3.0
TRACE_AFTER_S = 3.0
# Head and wrist samples of tracks this close to the event's plate go with it.
POSITIONS_RADIUS_M = 1.5
POSITIONS_MARGIN_S = 2.0
# Highest likelihood ratio, by wrist distance alone, of a visit against
# another shopper at a plate for the plate's undecided activity to be ruled
# out of the visit's cart. The engine calls a shopper ambiguous at far
# closer odds (``shopper_margin``).
CLEAR_LIKELIHOOD_RATIO = 0.01


@dataclass(frozen=True)
class EventTrace:
    """Readings of an event's plates kept at decision time, for review."""

    t_start: float
    t_end: float
    plates: dict[str, tuple[list[float], list[float]]]


@dataclass(frozen=True)
class VisitOutcome:
    """A visit's final cart after ``finalise``, with the events behind its lines."""

    visit_id: str
    receipt: Receipt
    events: list[DecidedEvent]
    staff: bool


@dataclass
class StepResult:
    """Events decided and visits finished by one ``step``."""

    decided: list[DecidedEvent] = field(default_factory=list)
    changed_visits: set[str] = field(default_factory=set)
    finished: list[VisitOutcome] = field(default_factory=list)


def event_key(decided: DecidedEvent) -> str:
    """Return a key unique per decided event of a store and stable across replays.

    Parts of one shelf event share plate and time but differ in action,
    sku or account.
    """
    return (
        f"{decided.plate}@{decided.t:.3f}:{decided.action}:{decided.sku}:"
        f"{decided.account or '-'}"
    )


class StoreFusion:
    """Live fusion of one store, fed with its stored inputs in order."""

    def __init__(
        self,
        store: Store,
        *,
        fusion_params: FusionParams = DEFAULT_PARAMS,
        detector_params: DetectorParams = DEFAULT_DETECTOR_PARAMS,
        settle_margin_s: float = 2.0,
    ) -> None:
        # The engine's store is a copy, because restock visits are added to
        # its staff accounts.
        self.store = replace(store)
        self.engine = FusionEngine(self.store, fusion_params, mode=AccountMode.GATES)
        self.detector = StreamingDetector(self.store, detector_params)
        self.settle_margin_s = settle_margin_s
        self.visit_tracks: dict[str, set[str]] = {}
        self.track_visit: dict[str, str] = {}
        # Exited track to its exit time on the sensor clock.
        self.exited: dict[str, float] = {}
        self.finished: set[str] = set()
        self.traces: dict[str, EventTrace] = {}
        self.inputs_applied = 0

    # --- inputs -----------------------------------------------------------

    def apply(self, kind: str, payload: dict[str, Any]) -> None:
        """Add one stored input (a validated sensor batch or a gate row)."""
        self.inputs_applied += 1
        if kind == SENSORS:
            self._apply_sensors(payload)
        elif kind == GATE:
            self._apply_gate(payload)
        else:
            logger.warning(
                "store %s: input of unknown kind %r skipped", self.store.info.id, kind
            )

    def _apply_sensors(self, payload: dict[str, Any]) -> None:
        weights = payload.get("weights")
        if weights:
            t = np.asarray(weights["t"], dtype=np.float64)
            g = np.asarray(weights["g"], dtype=np.float64)
            plates = np.asarray(weights["plate"], dtype=object)
            for plate in dict.fromkeys(plates.tolist()):
                rows = plates == plate
                self.detector.add(str(plate), t[rows], g[rows])
        poses = payload.get("poses")
        if poses and poses["t"]:
            self.engine.add_poses(
                PoseSamples(
                    t=np.asarray(poses["t"], dtype=np.float64),
                    track=np.asarray(poses["track"], dtype=object),
                    joint=np.asarray(poses["joint"], dtype=object),
                    xyz=np.column_stack(
                        [np.asarray(poses[axis], dtype=np.float64) for axis in "xyz"]
                    ),
                    score=np.asarray(poses["score"], dtype=np.float64),
                )
            )
        vision = payload.get("vision")
        if vision and vision["t"]:
            self.engine.add_vision(
                VisionObservations(
                    t=np.asarray(vision["t"], dtype=np.float64),
                    track=np.asarray(vision["track"], dtype=object),
                    hand=np.asarray(vision["hand"], dtype=object),
                    sku=np.asarray(vision["sku"], dtype=object),
                    p=np.asarray(vision["p"], dtype=np.float64),
                )
            )

    def _apply_gate(self, payload: dict[str, Any]) -> None:
        t = float(payload["t"])
        action = str(payload["action"])
        visit = payload.get("account")
        for track in payload["tracks"]:
            if action == "enter" and visit:
                if payload.get("staff"):
                    self._add_staff(str(visit))
                self.visit_tracks.setdefault(str(visit), set()).add(track)
                self.track_visit[track] = str(visit)
                self.engine.add_gate(GateEvent(t, "enter", track, str(visit)))
            elif action == "exit":
                self.engine.add_gate(GateEvent(t, "exit", track, None))
                self.exited[track] = t
                if track not in self.track_visit:
                    self._relink_exit(track, t)

    def _relink_exit(self, track: str, t: float) -> None:
        # A tracker that lost a person reports the exit under the new track
        # id. The engine links it to a lost track as it would for an event.
        visit = self.engine.accounts.account_of(track, self.engine.poses, t)
        if visit is None or visit not in self.visit_tracks:
            logger.warning(
                "store %s: exit of track %s at t=%.2f matches no visit",
                self.store.info.id,
                track,
                t,
            )
            return
        self.track_visit[track] = visit
        self.visit_tracks[visit].add(track)

    def exit_t(self, visit: str) -> float | None:
        """Return when the visit's last track left, or None while one is inside.

        A lost track that a later track continues counts as left.
        """
        tracks = self.visit_tracks.get(visit, set())
        continued = self.engine.accounts.continued
        times = [self.exited[track] for track in tracks if track in self.exited]
        if not times:
            return None
        if any(track not in self.exited and track not in continued for track in tracks):
            return None
        return max(times)

    def _add_staff(self, account: str) -> None:
        staff = self.store.staff_accounts | {account}
        self.store.staff_accounts = staff
        self.engine.accounts.staff = staff

    # --- decisions --------------------------------------------------------

    def step(self) -> StepResult:
        """Decide the events that became final and finish the visits now ready."""
        result = StepResult()
        for event in self.detector.ready_events():
            self._keep_trace(event)
            for decided in self.engine.decide(event):
                result.decided.append(decided)
                if decided.account is not None:
                    result.changed_visits.add(decided.account)
        decided_until = self.detector.decided_until()
        ready = []
        activity: dict[str, float] | None = None
        for visit in self.visit_tracks:
            if visit in self.finished:
                continue
            exit_t = self.exit_t(visit)
            if exit_t is None:
                continue
            if decided_until >= exit_t + self.settle_margin_s:
                ready.append((exit_t, visit))
                continue
            if activity is None:
                activity = self.detector.undecided_activity()
            blocking = self._blocking_plates(visit, exit_t, activity)
            if blocking and self._decide_alone(visit, blocking, activity, result):
                activity = self.detector.undecided_activity()
                blocking = self._blocking_plates(visit, exit_t, activity)
            if blocking is not None and not blocking:
                ready.append((exit_t, visit))
        for _, visit in sorted(ready):
            result.finished.append(self._finish(visit))
        return result

    def _decide_alone(
        self,
        visit: str,
        plates: set[str],
        activity: dict[str, float],
        result: StepResult,
    ) -> bool:
        """Decide the changes of ``plates`` now if the visit's shopper made them.

        The excursion window waits for the hand that lifted a load to put it
        back. Here the visit's wrists were much nearer to these plates and
        their busy neighbours than any other track's, so that the other is
        at most ``CLEAR_LIKELIHOOD_RATIO`` as likely to have moved them. The
        hand is then the visit's, and its shopper has left, so the changes
        are decided as soon as their levels are measured. Returns whether
        any event was decided.
        """
        params = self.engine.params
        margin = params.wrist_window_margin_s
        tracks = self.visit_tracks.get(visit, set())
        others = [track for track in self.engine.poses.tracks if track not in tracks]
        group = set(plates)
        for plate_id in plates:
            group.update(n for n in self.store.neighbours(plate_id) if n in activity)
        now = self.detector.active_last_t()
        min_gap = _clear_gap_m2(params)
        for plate_id in group:
            window = (activity.get(plate_id, now) - margin, now)
            plate = self.store.plates[plate_id]
            visit_m = self._nearest_m(tracks, plate, window)
            other_m = self._nearest_m(others, plate, window)
            if other_m**2 - visit_m**2 < min_gap:
                return False
        events = self.detector.events_past_excursions(group)
        if not events:
            return False
        for event in events:
            self._keep_trace(event)
            for decided in self.engine.decide(event):
                result.decided.append(decided)
                if decided.account is not None:
                    result.changed_visits.add(decided.account)
        logger.info(
            "store %s: visit %s: decided %d event(s) on plates %s without the "
            "excursion wait",
            self.store.info.id,
            visit,
            len(events),
            ",".join(sorted(group)),
        )
        return True

    def _blocking_plates(
        self, visit: str, exit_t: float, activity: dict[str, float]
    ) -> set[str] | None:
        """Return the plates whose undecided activity may still join the visit's cart.

        Returns None until the readings reach far enough past the exit to
        tell; an empty set means the visit can settle.

        The engine offers an event to every track with wrist samples from
        ``wrist_window_margin_s`` before its start, so activity that starts
        after the visit's last wrist sample by more than that cannot be its.
        Earlier activity goes to the visit only if its shopper is a likely
        cause. It is ruled out when a track of another visit had a wrist
        within ``max_reach_m`` of the plate as the activity began. The
        visit's wrists must also have stayed far enough away throughout for
        the distance term of the engine's reach likelihood (``reach_sd_m``)
        to make the visit at most ``CLEAR_LIKELIHOOD_RATIO`` as likely.
        Anything else blocks.
        """
        params = self.engine.params
        margin = params.wrist_window_margin_s
        tracks = self.visit_tracks.get(visit, set())
        known = self.engine.poses.tracks
        last_seen = max(
            [exit_t]
            + [
                float(known[track].wrist_t[-1])
                for track in tracks
                if track in known and known[track].wrist_t.size
            ]
        )
        # Activity dated up to last_seen + margin must have shown its
        # departure, which the detector may place this much after its start.
        detector = self.detector.params
        lead = 2 * detector.median_window_s + detector.stability_window_s
        now = self.detector.active_last_t()
        if now < last_seen + margin + lead:
            return None
        min_gap = _clear_gap_m2(params)
        others = [
            track
            for track, owner in self.track_visit.items()
            if owner != visit and track in known
        ]
        blocking = set()
        for plate_id, start in activity.items():
            if start > last_seen + margin:
                continue
            plate = self.store.plates[plate_id]
            onset = (start - margin, min(now, start + margin + lead))
            other_m = self._nearest_m(others, plate, onset)
            visit_m = self._nearest_m(tracks, plate, (start - margin, now))
            if other_m > params.max_reach_m or visit_m**2 - other_m**2 < min_gap:
                blocking.add(plate_id)
        return blocking

    def _nearest_m(
        self, tracks: Iterable[str], plate: Plate, window: tuple[float, float]
    ) -> float:
        """Return how near any wrist of ``tracks`` came to ``plate`` in ``window``."""
        poses = self.engine.poses
        known = poses.tracks
        nearest = math.inf
        for track in tracks:
            if track not in known:
                continue
            _, xyz, _ = poses.wrist_samples(track, *window)
            if len(xyz):
                nearest = min(nearest, float(plate_distances(xyz, plate).min()))
        return nearest

    def _finish(self, visit: str) -> VisitOutcome:
        self.finished.add(visit)
        self.engine.finalise(accounts=[visit])
        tracks = sorted(self.visit_tracks.get(visit, ()))
        silent = self.silent_plates()
        if silent:
            self.engine.review_silent_plates(visit, tracks, silent)
        receipt = build_receipt(visit, tracks, self.engine.carts.get(visit), self.store)
        events = [
            event
            for event in [*self.engine.decided, *self.engine.unmeasured]
            if event.account == visit
        ]
        staff = visit in self.store.staff_accounts
        logger.info(
            "store %s: visit %s finished with %d line(s), %d needing review%s",
            self.store.info.id,
            visit,
            len(receipt.items),
            sum(1 for line in receipt.items if line.needs_review),
            " (restock)" if staff else "",
        )
        return VisitOutcome(visit, receipt, events, staff)

    def silent_plates(self) -> dict[str, float]:
        """Return the last reading time of each plate that stopped reporting.

        These are the plates that the detector left out of the frontier
        (silent for ``stall_s``), so no visit waits for their levels. A plate
        that never reported is left out.
        """
        active_t = self.detector.active_last_t()
        silent: dict[str, float] = {}
        for plate in self.store.plates:
            times, _ = self.detector.readings(plate, -math.inf, math.inf)
            if times.size and float(times[-1]) < active_t:
                silent[plate] = float(times[-1])
        return silent

    def cart(self, visit: str) -> Receipt:
        """Return the visit's current cart as receipt lines."""
        tracks = sorted(self.visit_tracks.get(visit, ()))
        return build_receipt(visit, tracks, self.engine.carts.get(visit), self.store)

    def _keep_trace(self, event: ShelfEvent) -> None:
        plates: dict[str, tuple[list[float], list[float]]] = {}
        for plate in event.plates:
            t, g = self.detector.readings(
                plate, event.t_start - TRACE_BEFORE_S, event.t_end + TRACE_AFTER_S
            )
            plates[plate] = (t.tolist(), g.tolist())
        self.traces[f"{event.main_plate}@{event.t_mid:.3f}"] = EventTrace(
            event.t_start, event.t_end, plates
        )

    def trace_of(self, decided: DecidedEvent) -> EventTrace | None:
        """Return the readings kept for the shelf event ``decided`` came from."""
        found = self.traces.get(f"{decided.plate}@{decided.t:.3f}")
        if found is not None:
            return found
        # A split part keeps its own plate and time; fall back to the nearest
        # trace that covers its plate.
        best: EventTrace | None = None
        for trace in self.traces.values():
            if decided.plate in trace.plates and trace.t_start <= decided.t <= (
                trace.t_end
            ):
                best = trace
        if best is None and decided.review_reason == SENSOR_FAULT:
            # A take that a silent plate could not measure has no shelf event.
            # The readings still buffered show how the plate stopped.
            times, grams = self.detector.readings(
                decided.plate, decided.t - TRACE_BEFORE_S, decided.t + TRACE_AFTER_S
            )
            if times.size:
                best = EventTrace(
                    decided.t,
                    decided.t,
                    {decided.plate: (times.tolist(), grams.tolist())},
                )
        return best

    def positions_near(
        self, decided: DecidedEvent, start: float, end: float
    ) -> list[dict[str, object]]:
        """Return head and wrist samples of tracks near the event's plate."""
        plate = self.store.plates.get(decided.plate)
        if plate is None:
            return []
        centre = np.asarray(plate.center, dtype=np.float64)
        samples: list[dict[str, object]] = []
        for track, data in self.engine.poses.tracks.items():
            rows = [
                ("head", data.body_t, data.body_xyz, None),
                ("wrist", data.wrist_t, data.wrist_xyz, data.wrist_name),
            ]
            for kind, times, xyz, names in rows:
                lo = int(np.searchsorted(times, start, side="left"))
                hi = int(np.searchsorted(times, end, side="right"))
                for row in range(lo, hi):
                    point = xyz[row]
                    if float(np.linalg.norm(point[:2] - centre[:2])) > (
                        POSITIONS_RADIUS_M
                    ):
                        continue
                    samples.append(
                        {
                            "track": track,
                            "visit": self.track_visit.get(track),
                            "t": float(times[row]),
                            "joint": kind if names is None else str(names[row]),
                            "x": float(point[0]),
                            "y": float(point[1]),
                            "z": float(point[2]),
                        }
                    )
        samples.sort(key=lambda sample: (str(sample["track"]), float(str(sample["t"]))))
        return samples


def _clear_gap_m2(params: FusionParams) -> float:
    """Return the squared-distance gap at which one wrist is clearly the nearer.

    A gap ``d1**2 - d0**2`` of at least this makes the distance term of the
    reach likelihood, ``exp(-gap / (2 * reach_sd_m**2))``, at most
    ``CLEAR_LIKELIHOOD_RATIO``.
    """
    return -2 * params.reach_sd_m**2 * math.log(CLEAR_LIKELIHOOD_RATIO)


def settle_delay_s(fusion: StoreFusion) -> float:
    """Return the sensor seconds after an exit at which the margin rule settles."""
    detector = fusion.detector
    return detector.plate_margin + detector.group_margin + fusion.settle_margin_s


__all__ = [
    "GATE",
    "SENSORS",
    "EventTrace",
    "StepResult",
    "StoreFusion",
    "VisitOutcome",
    "event_key",
    "settle_delay_s",
]
