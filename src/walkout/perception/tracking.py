"""Multi-person tracking on the store floor.

Each track is a constant-velocity Kalman filter over the floor position
(x, y) of a person's head. Every frame, observations are matched to the
predicted tracks by the Hungarian method (``scipy.optimize.linear_sum_assignment``)
on floor distance, with pairs farther apart than a gate left unmatched.
Tracks start tentative, become confirmed after enough hits, are lost while
unmatched, and end when lost for too long. A track born inside an entry
zone is recorded in ``Tracker.entry_births`` so that the gate binding can
attach it to an account.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.optimize import linear_sum_assignment

from walkout.recording import FloatArray, Zone

logger = logging.getLogger(__name__)


class TrackState(Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    ENDED = "ended"


@dataclass(frozen=True)
class TrackerParams:
    """Tracker thresholds.

    ``gate_m``: the largest floor distance between a predicted track and an
    observation that may be matched. Raising it keeps tracks through fast
    moves and bad lifts but lets neighbours swap. ``min_hits``: matched
    frames before a tentative track is confirmed and reported. Raising it
    removes flicker from false detections but delays new people.
    ``max_lost_s``: how long a track survives without observations, which
    bridges occlusions but keeps ghosts alive as long. ``tentative_max_lost_s``:
    the same for tentative tracks, kept short so false hits die fast.
    ``acceleration_sd``: process noise of the constant-velocity model, in
    m/s^2; higher follows turns faster but smooths less.
    ``measurement_sd_m``: spread of a lifted floor position in metres.
    """

    gate_m: float = 1.0
    min_hits: int = 3
    max_lost_s: float = 2.0
    tentative_max_lost_s: float = 0.3
    acceleration_sd: float = 2.0
    measurement_sd_m: float = 0.15


@dataclass
class Observation:
    """One person seen at one instant, already in store coordinates.

    ``floor`` is (x, y) in metres; ``joints`` maps a joint name to its
    store position (x, y, z) and score.
    """

    floor: tuple[float, float]
    joints: dict[str, tuple[FloatArray, float]] = field(default_factory=dict)


@dataclass
class Track:
    """A tracked person: Kalman state over (x, y, vx, vy) and the last joints."""

    id: str
    state: TrackState
    mean: FloatArray
    covariance: FloatArray
    born_t: float
    last_seen_t: float
    hits: int = 1
    joints: dict[str, tuple[FloatArray, float]] = field(default_factory=dict)

    @property
    def floor(self) -> FloatArray:
        position: FloatArray = self.mean[:2]
        return position


@dataclass(frozen=True)
class EntryBirth:
    """A track that started inside an entry zone, for the gate binding."""

    t: float
    track: str
    zone: str


def point_in_polygon(
    x: float, y: float, polygon: Sequence[tuple[float, float]]
) -> bool:
    """Return whether (x, y) lies inside ``polygon`` (even-odd ray casting)."""
    inside = False
    count = len(polygon)
    for i in range(count):
        x0, y0 = polygon[i]
        x1, y1 = polygon[(i + 1) % count]
        if (y0 > y) != (y1 > y):
            crossing = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            if x < crossing:
                inside = not inside
    return inside


class Tracker:
    """Track people on the floor from per-frame observations (see module docs)."""

    def __init__(
        self,
        params: TrackerParams | None = None,
        *,
        entry_zones: Sequence[Zone] = (),
        id_prefix: str = "p",
    ) -> None:
        self.params = params or TrackerParams()
        self.entry_zones = [zone for zone in entry_zones if zone.kind == "entry"]
        self.id_prefix = id_prefix
        self.tracks: list[Track] = []
        self._births: list[EntryBirth] = []
        self._next_id = 1
        self._last_t: float | None = None

    @property
    def entry_births(self) -> list[EntryBirth]:
        """Births in entry zones of tracks that were confirmed, in time order.

        A tentative track that ended without confirmation was a false hit,
        so its birth is left out.
        """
        confirmed = {
            track.id for track in self.tracks if track.hits >= self.params.min_hits
        }
        return [birth for birth in self._births if birth.track in confirmed]

    # --- Kalman filter ------------------------------------------------------

    def _predict(self, track: Track, dt: float) -> None:
        transition = np.eye(4)
        transition[0, 2] = transition[1, 3] = dt
        q = self.params.acceleration_sd**2
        noise_1d = q * np.array([[dt**4 / 4, dt**3 / 2], [dt**3 / 2, dt**2]])
        noise = np.zeros((4, 4))
        noise[np.ix_([0, 2], [0, 2])] = noise_1d
        noise[np.ix_([1, 3], [1, 3])] = noise_1d
        track.mean = transition @ track.mean
        track.covariance = transition @ track.covariance @ transition.T + noise

    def _correct(self, track: Track, floor: tuple[float, float]) -> None:
        measurement = np.eye(2, 4)
        r = self.params.measurement_sd_m**2 * np.eye(2)
        innovation = np.asarray(floor) - measurement @ track.mean
        s = measurement @ track.covariance @ measurement.T + r
        gain = track.covariance @ measurement.T @ np.linalg.inv(s)
        track.mean = track.mean + gain @ innovation
        track.covariance = (np.eye(4) - gain @ measurement) @ track.covariance

    # --- per-frame update ---------------------------------------------------

    def update(self, t: float, observations: Sequence[Observation]) -> list[Track]:
        """Advance all tracks to time ``t``, match ``observations`` and return
        the confirmed tracks that were seen at ``t``."""
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        active = [track for track in self.tracks if track.state != TrackState.ENDED]

        # Predict every live track to the current time.
        for track in active:
            self._predict(track, dt)

        # Match observations to predictions on floor distance within the gate.
        matches, unmatched = self._assign(active, observations)
        for track, observation in matches:
            self._correct(track, observation.floor)
            track.joints = observation.joints
            track.last_seen_t = t
            track.hits += 1
            if track.state == TrackState.LOST:
                logger.debug("track %s: found again at t=%.2f", track.id, t)
                track.state = TrackState.CONFIRMED
            elif track.state == TrackState.TENTATIVE and (
                track.hits >= self.params.min_hits
            ):
                track.state = TrackState.CONFIRMED
                logger.debug("track %s: confirmed at t=%.2f", track.id, t)

        # Age the tracks that saw nothing this frame.
        matched_ids = {track.id for track, _ in matches}
        for track in active:
            if track.id not in matched_ids:
                self._age(track, t)

        # Start a tentative track for each observation left over.
        for observation in unmatched:
            self._start(t, observation)

        return [
            track
            for track in self.tracks
            if track.state == TrackState.CONFIRMED and track.last_seen_t == t
        ]

    def _assign(
        self, tracks: Sequence[Track], observations: Sequence[Observation]
    ) -> tuple[list[tuple[Track, Observation]], list[Observation]]:
        if not tracks or not observations:
            return [], list(observations)
        predicted = np.array([track.floor for track in tracks])
        observed = np.array([observation.floor for observation in observations])
        cost = np.linalg.norm(predicted[:, None, :] - observed[None, :, :], axis=2)
        # Confirmed and lost tracks win ties over tentative ones.
        tentative = np.array([track.state == TrackState.TENTATIVE for track in tracks])
        cost = cost + 1e-3 * tentative[:, None]
        gated = np.where(cost <= self.params.gate_m, cost, 1e6)
        rows, cols = linear_sum_assignment(gated)
        matches = [
            (tracks[r], observations[c])
            for r, c in zip(rows, cols, strict=True)
            if gated[r, c] < 1e6
        ]
        used = {c for r, c in zip(rows, cols, strict=True) if gated[r, c] < 1e6}
        unmatched = [obs for i, obs in enumerate(observations) if i not in used]
        return matches, unmatched

    def _age(self, track: Track, t: float) -> None:
        missing_s = t - track.last_seen_t
        if track.state == TrackState.TENTATIVE:
            if missing_s > self.params.tentative_max_lost_s:
                track.state = TrackState.ENDED
            return
        if missing_s > self.params.max_lost_s:
            track.state = TrackState.ENDED
            logger.info(
                "track %s: ended, unseen since t=%.2f", track.id, track.last_seen_t
            )
        elif track.state == TrackState.CONFIRMED:
            track.state = TrackState.LOST

    def _start(self, t: float, observation: Observation) -> None:
        track_id = f"{self.id_prefix}{self._next_id}"
        self._next_id += 1
        covariance = np.diag([self.params.measurement_sd_m**2] * 2 + [1.0, 1.0])
        track = Track(
            id=track_id,
            state=TrackState.TENTATIVE
            if self.params.min_hits > 1
            else TrackState.CONFIRMED,
            mean=np.array([*observation.floor, 0.0, 0.0]),
            covariance=covariance,
            born_t=t,
            last_seen_t=t,
            joints=observation.joints,
        )
        self.tracks.append(track)
        for zone in self.entry_zones:
            if point_in_polygon(*observation.floor, zone.polygon):
                self._births.append(EntryBirth(t, track_id, zone.id))
                logger.info(
                    "track %s: born in entry zone %s at t=%.2f", track_id, zone.id, t
                )
                break
