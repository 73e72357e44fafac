"""Multi-person tracking on the store floor.

Each track is a constant-velocity Kalman filter over the floor position
(x, y) of a person's head. Every instant runs three steps:

1. Observations are matched to the predicted tracks by the Hungarian method
   (``scipy.optimize.linear_sum_assignment``) on the Mahalanobis distance
   between prediction and observation, with pairs beyond ``gate_sd`` left
   unmatched. An observation may carry its own floor covariance: a head
   seen by one camera is placed at a prior height, so its floor position is
   uncertain mostly along that camera's viewing ray.
2. A leftover observation from a camera that a track has not used at this
   instant is fused into the nearest track as one more Kalman correction
   when it lies within the gate, or when it is a duplicate by visibility:
   within ``duplicate_m`` of the track, its cameras had the track in view
   but found no one else, and the track's cameras had it in view but found
   no one else. One camera sees one person once, while two cameras that
   disagree about one person (a calibration error) would otherwise start a
   second track.
3. Observations still left over start tentative tracks.

Tracks become confirmed after ``min_hits`` hits and are lost while unseen.
A lost track coasts with a damped velocity and a position uncertainty that
grows up to ``max_coast_sd_m``, so it can be found again after an
occlusion. A tentative track that is confirmed outside every entry zone
takes over the id of a recently lost or ended track within walking reach,
because people appear inside a store only through its entry. A track born
inside an entry zone is recorded in ``Tracker.entry_births`` so that the
gate binding can attach it to an account.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
from scipy.optimize import linear_sum_assignment

from walkout.recording import FloatArray, Zone

logger = logging.getLogger(__name__)

# Cost of a pair beyond the gate in the assignment problem.
_UNMATCHABLE = 1e6


class TrackState(Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    LOST = "lost"
    ENDED = "ended"


@dataclass(frozen=True)
class TrackerParams:
    """Tracker thresholds.

    ``gate_sd``: the largest Mahalanobis distance between a predicted track
    and an observation that may be matched or fused. Raising it keeps
    tracks through fast moves and bad lifts but lets neighbours swap.
    ``min_hits``: matched instants before a tentative track is confirmed
    and reported. Raising it removes flicker from false detections but
    delays new people. ``max_lost_s``: how long a track coasts without
    observations, which bridges occlusions but keeps ghosts alive as long.
    ``tentative_max_lost_s``: the same for tentative tracks, kept short so
    false hits die fast. ``acceleration_sd``: process noise of the
    constant-velocity model, in m/s^2; higher follows turns faster but
    smooths less. ``measurement_sd_m``: spread of a lifted floor position
    in metres, used for observations without their own covariance.
    ``max_coast_sd_m``: cap on the position spread of a lost track, which
    bounds how far away an observation can find it again.
    ``coast_velocity_tau_s``: time constant with which a lost track's
    velocity decays, because shoppers stop more often than they keep
    walking unseen. ``reid_window_s``, ``reid_base_m`` and
    ``reid_speed_m_s``: a track confirmed outside the entry zones takes
    over the id of a track lost or ended at most ``reid_window_s`` earlier
    and at most ``reid_base_m + reid_speed_m_s * gap`` away.
    ``duplicate_m``: how far apart two cameras' views of one person may be
    placed and still be fused by the visibility rule (module docs); it
    needs the ``in_view`` test of the ``Tracker``. Raising it absorbs worse
    calibrations but can merge two people whom each camera sees alone.
    ``merge_after``: consecutive instants in which two confirmed tracks
    must look like one person before the younger is merged into the older.
    """

    gate_sd: float = 3.0
    min_hits: int = 5
    max_lost_s: float = 5.0
    tentative_max_lost_s: float = 0.3
    acceleration_sd: float = 2.0
    measurement_sd_m: float = 0.15
    max_coast_sd_m: float = 1.0
    coast_velocity_tau_s: float = 1.0
    reid_window_s: float = 10.0
    reid_base_m: float = 1.0
    reid_speed_m_s: float = 1.0
    duplicate_m: float = 2.0
    merge_after: int = 3


@dataclass
class Observation:
    """One person seen at one instant, already in store coordinates.

    ``floor`` is (x, y) in metres; ``joints`` maps a joint name to its
    store position (x, y, z) and score. ``covariance`` is the 2x2 floor
    covariance in m^2 (None: isotropic ``TrackerParams.measurement_sd_m``).
    ``cameras`` are the ids of the cameras whose detections formed it.
    ``pixels`` maps a joint name to the pixel (u, v) where each camera
    detected it.
    """

    floor: tuple[float, float]
    joints: dict[str, tuple[FloatArray, float]] = field(default_factory=dict)
    covariance: FloatArray | None = None
    cameras: tuple[str, ...] = ()
    pixels: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)


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
    born_in_entry: bool = False
    # Cameras whose observations were used at the last instant it was seen.
    cameras: set[str] = field(default_factory=set)
    # Joint name to camera id to detected pixel, at the last instant seen.
    pixels: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)

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


@dataclass(frozen=True)
class Reidentification:
    """A new track that took over the id of a lost or ended one."""

    t: float
    track: str
    gap_s: float
    distance_m: float


@dataclass(frozen=True)
class Merge:
    """A confirmed track that turned out to be another camera's view of one."""

    t: float
    track: str
    into: str


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


def _merge_joints(
    joints: dict[str, tuple[FloatArray, float]],
    other: dict[str, tuple[FloatArray, float]],
) -> dict[str, tuple[FloatArray, float]]:
    """Return the joints of both, keeping the higher-scored one per joint."""
    merged = dict(joints)
    for name, (point, score) in other.items():
        if name not in merged or score > merged[name][1]:
            merged[name] = (point, score)
    return merged


InView = Callable[[str, tuple[float, float]], bool]
"""Whether camera ``id`` would see a standing person at floor point (x, y)."""


def _copy_pixels(
    pixels: dict[str, dict[str, tuple[float, float]]],
) -> dict[str, dict[str, tuple[float, float]]]:
    return {joint: dict(by_camera) for joint, by_camera in pixels.items()}


def _merge_pixels(
    pixels: dict[str, dict[str, tuple[float, float]]],
    other: dict[str, dict[str, tuple[float, float]]],
) -> None:
    """Add ``other``'s detected pixels to ``pixels`` in place."""
    for joint, by_camera in other.items():
        pixels.setdefault(joint, {}).update(by_camera)


class Tracker:
    """Track people on the floor from per-instant observations (see module docs)."""

    def __init__(
        self,
        params: TrackerParams | None = None,
        *,
        entry_zones: Sequence[Zone] = (),
        id_prefix: str = "p",
        in_view: InView | None = None,
    ) -> None:
        self.params = params or TrackerParams()
        self.in_view = in_view
        self.entry_zones = [zone for zone in entry_zones if zone.kind == "entry"]
        self.id_prefix = id_prefix
        self.tracks: list[Track] = []
        self.reidentifications: list[Reidentification] = []
        self.merges: list[Merge] = []
        self._duplicate_counts: dict[tuple[str, str], int] = {}
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
        if track.state == TrackState.LOST:
            self._damp_coast(track, dt)

    def _damp_coast(self, track: Track, dt: float) -> None:
        """Slow a lost track down and cap its position spread."""
        decay = math.exp(-dt / self.params.coast_velocity_tau_s)
        track.mean[2:] *= decay
        track.covariance[2:, :] *= decay
        track.covariance[:, 2:] *= decay
        position_variance = float(np.trace(track.covariance[:2, :2])) / 2
        cap = self.params.max_coast_sd_m**2
        if position_variance > cap:
            # Scaling the position rows and columns alike keeps the
            # covariance positive semi-definite.
            scale = math.sqrt(cap / position_variance)
            track.covariance[:2, :] *= scale
            track.covariance[:, :2] *= scale

    def _observation_covariance(self, observation: Observation) -> FloatArray:
        if observation.covariance is not None:
            return np.asarray(observation.covariance, dtype=np.float64)
        covariance: FloatArray = self.params.measurement_sd_m**2 * np.eye(2)
        return covariance

    def _mahalanobis(self, track: Track, observation: Observation) -> float:
        innovation = np.asarray(observation.floor) - track.mean[:2]
        s = track.covariance[:2, :2] + self._observation_covariance(observation)
        return math.sqrt(max(0.0, float(innovation @ np.linalg.solve(s, innovation))))

    def _correct(self, track: Track, observation: Observation) -> None:
        measurement = np.eye(2, 4)
        r = self._observation_covariance(observation)
        innovation = np.asarray(observation.floor) - measurement @ track.mean
        s = measurement @ track.covariance @ measurement.T + r
        gain = track.covariance @ measurement.T @ np.linalg.inv(s)
        track.mean = track.mean + gain @ innovation
        covariance = (np.eye(4) - gain @ measurement) @ track.covariance
        track.covariance = (covariance + covariance.T) / 2

    # --- per-instant update -------------------------------------------------

    def update(self, t: float, observations: Sequence[Observation]) -> list[Track]:
        """Advance all tracks to time ``t``, match ``observations`` and return
        the confirmed tracks that were seen at ``t``."""
        dt = 0.0 if self._last_t is None else max(0.0, t - self._last_t)
        self._last_t = t
        active = [track for track in self.tracks if track.state != TrackState.ENDED]

        # Predict every live track to the current time.
        for track in active:
            self._predict(track, dt)

        # Match observations to predictions, then fuse extra camera views.
        matches, unmatched = self._assign(active, observations)
        for track, observation in matches:
            self._hit(track, observation, t)
        unmatched = self._fuse_leftovers(active, unmatched, t)
        self._confirm(active, t)
        self._merge_duplicates(active, t)

        # Age the tracks that saw nothing this instant.
        for track in active:
            if track.last_seen_t != t and track.state != TrackState.ENDED:
                self._age(track, t)

        # Start a tentative track for each observation left over.
        for observation in unmatched:
            self._start(t, observation)

        return [
            track
            for track in self.tracks
            if track.state == TrackState.CONFIRMED and track.last_seen_t == t
        ]

    def _hit(self, track: Track, observation: Observation, t: float) -> None:
        self._correct(track, observation)
        track.joints = dict(observation.joints)
        track.pixels = _copy_pixels(observation.pixels)
        track.cameras = set(observation.cameras)
        track.last_seen_t = t
        track.hits += 1
        if track.state == TrackState.LOST:
            logger.debug("track %s: found again at t=%.2f", track.id, t)
            track.state = TrackState.CONFIRMED

    def _assign(
        self, tracks: Sequence[Track], observations: Sequence[Observation]
    ) -> tuple[list[tuple[Track, Observation]], list[Observation]]:
        if not tracks or not observations:
            return [], list(observations)
        cost = np.array(
            [
                [self._mahalanobis(track, observation) for observation in observations]
                for track in tracks
            ]
        )
        # Confirmed and lost tracks win ties over tentative ones.
        tentative = np.array([track.state == TrackState.TENTATIVE for track in tracks])
        cost = cost + 1e-3 * tentative[:, None]
        gated = np.where(cost <= self.params.gate_sd, cost, _UNMATCHABLE)
        rows, cols = linear_sum_assignment(gated)
        matches = [
            (tracks[r], observations[c])
            for r, c in zip(rows, cols, strict=True)
            if gated[r, c] < _UNMATCHABLE
        ]
        used = {
            c for r, c in zip(rows, cols, strict=True) if gated[r, c] < _UNMATCHABLE
        }
        unmatched = [obs for i, obs in enumerate(observations) if i not in used]
        return matches, unmatched

    def _fuse_leftovers(
        self, tracks: Sequence[Track], leftovers: Sequence[Observation], t: float
    ) -> list[Observation]:
        """Fuse each leftover observation into a track seen now by other cameras.

        Returns the observations that no track took.
        """
        remaining: list[Observation] = []
        for observation in leftovers:
            candidates = [
                (self._mahalanobis(track, observation), index)
                for index, track in enumerate(tracks)
                if track.last_seen_t == t
                and track.state != TrackState.TENTATIVE
                and observation.cameras
                and not track.cameras.intersection(observation.cameras)
            ]
            best = min(candidates, default=None)
            if best is None:
                remaining.append(observation)
                continue
            track = tracks[best[1]]
            if best[0] > self.params.gate_sd and not self._duplicate(
                track, observation
            ):
                remaining.append(observation)
                continue
            self._correct(track, observation)
            track.joints = _merge_joints(track.joints, observation.joints)
            _merge_pixels(track.pixels, observation.pixels)
            track.cameras.update(observation.cameras)
        return remaining

    def _confirm(self, tracks: Sequence[Track], t: float) -> None:
        """Confirm tentative tracks with enough hits, unless they duplicate one.

        A tentative track that is the same person as a confirmed track seen
        now (see ``_same_person``) ends instead, and its joints join that
        track's, so a second camera's late view never gets an id.
        """
        seen = [
            track
            for track in tracks
            if track.state == TrackState.CONFIRMED and track.last_seen_t == t
        ]
        for track in tracks:
            if (
                track.state != TrackState.TENTATIVE
                or track.last_seen_t != t
                or track.hits < self.params.min_hits
            ):
                continue
            twin = next(
                (other for other in seen if self._same_person(other, track)), None
            )
            if twin is not None:
                logger.debug(
                    "track %s: another camera's view of %s at t=%.2f",
                    track.id,
                    twin.id,
                    t,
                )
                twin.joints = _merge_joints(twin.joints, track.joints)
                _merge_pixels(twin.pixels, track.pixels)
                track.state = TrackState.ENDED
                self.tracks.remove(track)
                continue
            track.state = TrackState.CONFIRMED
            logger.debug("track %s: confirmed at t=%.2f", track.id, t)
            self._reidentify(track, t)
            seen.append(track)

    def _merge_duplicates(self, tracks: Sequence[Track], t: float) -> None:
        """Merge confirmed tracks that stay the same person for a while.

        After ``merge_after`` consecutive instants in which both were seen
        and ``_same_person`` held, the younger track ends and the older one
        takes its observation as one more correction.
        """
        seen = [
            track
            for track in tracks
            if track.state == TrackState.CONFIRMED and track.last_seen_t == t
        ]
        seen.sort(key=lambda track: (track.born_t, track.id))
        for i, older in enumerate(seen):
            for younger in seen[i + 1 :]:
                if younger.state == TrackState.ENDED or older.state == TrackState.ENDED:
                    continue
                key = (older.id, younger.id)
                if not self._same_person(older, younger):
                    self._duplicate_counts.pop(key, None)
                    continue
                count = self._duplicate_counts.get(key, 0) + 1
                self._duplicate_counts[key] = count
                if count < self.params.merge_after:
                    continue
                logger.info(
                    "track %s: merged into %s, one person seen by cameras %s "
                    "and %s, at t=%.2f",
                    younger.id,
                    older.id,
                    ",".join(sorted(younger.cameras)),
                    ",".join(sorted(older.cameras)),
                    t,
                )
                self._correct(
                    older,
                    Observation(
                        (float(younger.floor[0]), float(younger.floor[1])),
                        covariance=younger.covariance[:2, :2],
                    ),
                )
                older.joints = _merge_joints(older.joints, younger.joints)
                _merge_pixels(older.pixels, younger.pixels)
                older.cameras.update(younger.cameras)
                younger.state = TrackState.ENDED
                self.merges.append(Merge(t, younger.id, older.id))

    def _same_person(self, a: Track, b: Track) -> bool:
        """Return whether two tracks seen now are one person in different cameras."""
        if not a.cameras or not b.cameras or a.cameras & b.cameras:
            return False
        innovation = a.floor - b.floor
        s = a.covariance[:2, :2] + b.covariance[:2, :2]
        squared = float(innovation @ np.linalg.solve(s, innovation))
        if squared <= self.params.gate_sd**2:
            return True
        if self.in_view is None:
            return False
        if math.dist(a.floor, b.floor) > self.params.duplicate_m:
            return False
        floor_a = (float(a.floor[0]), float(a.floor[1]))
        floor_b = (float(b.floor[0]), float(b.floor[1]))
        return all(self.in_view(camera, floor_b) for camera in a.cameras) and all(
            self.in_view(camera, floor_a) for camera in b.cameras
        )

    def _duplicate(self, track: Track, observation: Observation) -> bool:
        """Return whether ``observation`` is ``track`` seen by other cameras.

        Both sides must have had the other in view: a camera that sees two
        people reports two detections, so a camera that had both places in
        view but reported only one person saw one person.
        """
        if self.in_view is None or not track.cameras:
            return False
        floor = (float(track.floor[0]), float(track.floor[1]))
        if math.dist(floor, observation.floor) > self.params.duplicate_m:
            return False
        return all(
            self.in_view(camera, floor) for camera in observation.cameras
        ) and all(self.in_view(camera, observation.floor) for camera in track.cameras)

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

    def _in_entry_zone(self, floor: FloatArray | tuple[float, float]) -> str | None:
        for zone in self.entry_zones:
            if point_in_polygon(float(floor[0]), float(floor[1]), zone.polygon):
                return zone.id
        return None

    def _reidentify(self, track: Track, t: float) -> None:
        """Give a newly confirmed track the id of a lost or ended one nearby.

        Tracks born in an entry zone keep their id: they are new people.
        """
        if track.born_in_entry:
            return
        best: tuple[float, Track, float] | None = None
        for old in self.tracks:
            if (
                old is track
                or old.hits < self.params.min_hits
                or old.state not in (TrackState.LOST, TrackState.ENDED)
                or old.last_seen_t >= t
            ):
                continue
            gap = track.born_t - old.last_seen_t
            if gap < 0 or gap > self.params.reid_window_s:
                continue
            distance = float(np.linalg.norm(track.floor - old.floor))
            reach = self.params.reid_base_m + self.params.reid_speed_m_s * gap
            if distance <= reach and (best is None or distance < best[0]):
                best = (distance, old, gap)
        if best is None:
            return
        distance, old, gap = best
        logger.info(
            "track %s: continues %s (unseen %.1f s, %.2f m away) at t=%.2f",
            track.id,
            old.id,
            gap,
            distance,
            t,
        )
        old.state = TrackState.ENDED
        self.tracks.remove(old)
        track.id = old.id
        track.born_t = old.born_t
        self.reidentifications.append(Reidentification(t, old.id, gap, distance))

    def _start(self, t: float, observation: Observation) -> None:
        track_id = f"{self.id_prefix}{self._next_id}"
        self._next_id += 1
        r = self._observation_covariance(observation)
        covariance = np.zeros((4, 4))
        covariance[:2, :2] = r
        covariance[2:, 2:] = np.eye(2)
        zone = self._in_entry_zone(observation.floor)
        track = Track(
            id=track_id,
            state=TrackState.TENTATIVE
            if self.params.min_hits > 1
            else TrackState.CONFIRMED,
            mean=np.array([*observation.floor, 0.0, 0.0]),
            covariance=covariance,
            born_t=t,
            last_seen_t=t,
            joints=dict(observation.joints),
            pixels=_copy_pixels(observation.pixels),
            born_in_entry=zone is not None,
            cameras=set(observation.cameras),
        )
        self.tracks.append(track)
        if zone is not None:
            self._births.append(EntryBirth(t, track_id, zone))
            logger.info("track %s: born in entry zone %s at t=%.2f", track_id, zone, t)
