"""Shopper association: which tracked person touched a plate, and whose account pays.

Association scores each track by the closest approach of either wrist to
the event's plates during the event window. Accounts come from gate rows,
and a track that appears without an ``enter`` row is re-linked to the
account of the track lost most recently near where it appeared.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import numpy.typing as npt

from walkout.recording.model import FloatArray, GateEvent, Plate, PoseSamples
from walkout.sensing.model import ShelfEvent

from .params import DEFAULT_PARAMS, FusionParams

logger = logging.getLogger(__name__)

WRISTS = ("left_wrist", "right_wrist")
AMBIGUOUS_SHOPPER = "ambiguous_shopper"
ANONYMOUS_ACCOUNT = "anonymous"


class AccountMode(Enum):
    """Rule that maps tracks to paying accounts."""

    GATES = "gates"
    """Gate ``enter`` rows bind tracks to accounts."""
    TRACKS = "tracks"
    """No gates: each track is its own account, named after the track."""
    ANONYMOUS = "anonymous"
    """No gates and no poses: every event belongs to one account, ``anonymous``."""


@dataclass(frozen=True)
class Reach:
    """One reach of one wrist into the event's plates: when it arrived and left.

    ``arrive_t`` and ``leave_t`` bound the run of samples within
    ``reach_near_m`` of the plates that contains the track's best sample,
    bridging gaps of missing samples up to ``reach_gap_s``.
    """

    track: str
    wrist: str
    arrive_t: float
    leave_t: float

    def same_as(self, other: Reach, tolerance_s: float) -> bool:
        """Return whether ``other`` is this reach seen from another event."""
        return (
            self.track == other.track
            and self.wrist == other.wrist
            and abs(self.arrive_t - other.arrive_t) <= tolerance_s
        )


@dataclass(frozen=True)
class TrackScore:
    """A track's probability of having caused an event, with its evidence.

    ``distance_m`` is the wrist-to-plate distance of the best sample,
    ``onset_offset_s`` how far that sample lies outside the window around
    the event's start in which the causing hand is expected, and ``reach``
    the wrist's reach that contains it.
    """

    track: str
    p: float
    distance_m: float
    onset_offset_s: float = 0.0
    reach: Reach | None = None
    dwell_offset_m: float | None = None


@dataclass
class _Track:
    wrist_t: FloatArray
    wrist_xyz: FloatArray
    wrist_name: npt.NDArray[np.object_]
    body_t: FloatArray
    body_xyz: FloatArray


class PoseIndex:
    """Pose samples grouped by track, with the wrists kept apart for association.

    ``add`` may be called repeatedly as samples arrive; samples of each track
    are kept ordered by time.
    """

    def __init__(self, params: FusionParams = DEFAULT_PARAMS) -> None:
        self._params = params
        self._chunks: list[PoseSamples] = []
        self._tracks: dict[str, _Track] = {}
        self._dirty = False

    def add(self, poses: PoseSamples) -> None:
        if len(poses):
            self._chunks.append(poses)
            self._dirty = True

    def __bool__(self) -> bool:
        return bool(self._chunks)

    @property
    def tracks(self) -> dict[str, _Track]:
        if self._dirty:
            self._rebuild()
        return self._tracks

    def _rebuild(self) -> None:
        t = np.concatenate([chunk.t for chunk in self._chunks])
        track = np.concatenate([chunk.track for chunk in self._chunks])
        joint = np.concatenate([chunk.joint for chunk in self._chunks])
        xyz = np.concatenate([chunk.xyz for chunk in self._chunks])
        score = np.concatenate([chunk.score for chunk in self._chunks])

        order = np.argsort(t, kind="stable")
        t, track, joint, xyz, score = (
            t[order],
            track[order],
            joint[order],
            xyz[order],
            score[order],
        )
        is_wrist = np.isin(joint, WRISTS) & (score >= self._params.min_joint_score)
        is_head = joint == "head"

        self._tracks = {}
        for name in np.unique(track):
            mine = track == name
            wrist = mine & is_wrist
            # The head marks where a person is; other joints stand in for
            # tracks that never report one.
            body = mine & is_head if np.any(mine & is_head) else mine
            self._tracks[str(name)] = _Track(
                t[wrist], xyz[wrist], joint[wrist], t[body], xyz[body]
            )
        self._dirty = False

    def first_seen(self, track: str) -> tuple[float, FloatArray] | None:
        """Return the time and position of the track's first sample."""
        data = self.tracks.get(track)
        if data is None or data.body_t.size == 0:
            return None
        return float(data.body_t[0]), data.body_xyz[0]

    def last_seen(self, track: str, until: float) -> tuple[float, FloatArray] | None:
        """Return the time and position of the last sample at or before ``until``."""
        data = self.tracks.get(track)
        if data is None:
            return None
        end = int(np.searchsorted(data.body_t, until, side="right"))
        if end == 0:
            return None
        return float(data.body_t[end - 1]), data.body_xyz[end - 1]

    def tracks_seen(self, start: float, end: float) -> list[str]:
        """Return the tracks with any sample between ``start`` and ``end``."""
        seen = []
        for name, data in self.tracks.items():
            lo = int(np.searchsorted(data.body_t, start, side="left"))
            if lo < data.body_t.size and data.body_t[lo] <= end:
                seen.append(name)
        return seen

    def wrists(self, track: str, start: float, end: float) -> FloatArray:
        """Return the wrist positions of ``track`` between ``start`` and ``end``."""
        return self.wrist_samples(track, start, end)[1]

    def wrist_samples(
        self, track: str, start: float, end: float
    ) -> tuple[FloatArray, FloatArray, npt.NDArray[np.object_]]:
        """Return times, positions and joint names of ``track``'s wrist samples
        between ``start`` and ``end``, ordered by time."""
        data = self.tracks[track]
        lo = int(np.searchsorted(data.wrist_t, start, side="left"))
        hi = int(np.searchsorted(data.wrist_t, end, side="right"))
        return data.wrist_t[lo:hi], data.wrist_xyz[lo:hi], data.wrist_name[lo:hi]


def plate_distances(points: FloatArray, plate: Plate) -> FloatArray:
    """Return the distance of each point to the plate's top rectangle, in metres.

    The horizontal part is the distance to the rectangle (zero above it) and
    the vertical part is the height difference to the plate's top surface.
    """
    cx, cy, cz = plate.center
    half_x, half_y = plate.size[0] / 2, plate.size[1] / 2
    dx = np.maximum(np.abs(points[:, 0] - cx) - half_x, 0.0)
    dy = np.maximum(np.abs(points[:, 1] - cy) - half_y, 0.0)
    dz = points[:, 2] - cz
    result: FloatArray = np.sqrt(dx * dx + dy * dy + dz * dz)
    return result


def associate_tracks(
    event: ShelfEvent,
    plates: Iterable[Plate],
    poses: PoseIndex,
    params: FusionParams = DEFAULT_PARAMS,
    *,
    used_reaches: Sequence[Reach] = (),
) -> list[TrackScore]:
    """Rank the tracks whose wrists were tracked near ``event``.

    The hand that causes a load change is at the plate when the change
    starts, so each wrist sample scores
    ``-d**2 / (2 * reach_sd_m**2) - o**2 / (2 * onset_sd_s**2)``, where ``d``
    is its distance to the nearest plate of the event and ``o`` how far its
    time lies outside ``[t_start - onset_lead_s, t_start + onset_lag_s]``,
    a window that reaches to ``t_end - onset_lead_s`` for long changes.
    A track scores its best sample over both wrists and every sample in the
    event window widened by ``wrist_window_margin_s``. The reach that
    contains that sample adds ``-e**2 / (2 * dwell_sd_m**2)``, where ``e`` is
    how far the reach's median position lies along the shelf from the
    plates' centres (``shelf_offset``). A hand resting on another plate
    nearby (a lean, a neighbour's grab) has single samples near the plate,
    but its median lies elsewhere. A reach that arrived
    more than ``approach_max_s`` before the start loses
    ``0.5 * (excess / approach_sd_s) ** 2`` for resting there, at most the
    penalty of a reused reach. A reach that already
    caused an earlier event (one of ``used_reaches``) scores
    ``reused_reach_factor`` times less, because one reach moves one load.
    Scores are normalised over tracks. Returns an empty list when no track
    has wrist samples in the window.
    """
    plate_list = list(plates)
    if not plate_list:
        return []
    start = event.t_start - params.wrist_window_margin_s
    end = event.t_end + params.wrist_window_margin_s
    onset_lo = event.t_start - params.onset_lead_s
    # A long change (ringing after an earlier grab, a slow lift) may have its
    # step anywhere inside it, so its causing hand may arrive until
    # ``onset_lead_s`` before its end.
    onset_hi = max(
        event.t_start + params.onset_lag_s, event.t_end - params.onset_lead_s
    )

    logs: dict[str, float] = {}
    evidence: dict[str, tuple[float, float, Reach, float]] = {}
    for track in poses.tracks:
        t, xyz, names = poses.wrist_samples(track, start, end)
        if t.shape[0] == 0:
            continue

        # Score every sample by distance and by timing against the onset.
        distance = np.min(
            np.stack([plate_distances(xyz, plate) for plate in plate_list]), axis=0
        )
        offset = np.maximum(np.maximum(onset_lo - t, t - onset_hi), 0.0)
        sample_log = (
            -0.5 * (distance / params.reach_sd_m) ** 2
            - 0.5 * (offset / params.onset_sd_s) ** 2
        )
        best = int(np.argmax(sample_log))

        # The reach that contains the best sample, and whether it was used.
        reach, dwell = _reach_around(
            poses, track, str(names[best]), float(t[best]), plate_list, params
        )
        dwell_offset = shelf_offset(dwell, plate_list)
        log = float(sample_log[best])
        log -= 0.5 * (dwell_offset / params.dwell_sd_m) ** 2
        rested = event.t_start - reach.arrive_t - params.approach_max_s
        if rested > 0:
            penalty = 0.5 * (rested / params.approach_sd_s) ** 2
            log -= min(penalty, -math.log(params.reused_reach_factor))
        if any(reach.same_as(used, params.reach_gap_s) for used in used_reaches):
            log += math.log(params.reused_reach_factor)
        logs[track] = log
        evidence[track] = (
            float(distance[best]),
            float(offset[best]),
            reach,
            dwell_offset,
        )
    if not logs:
        return []

    top = max(logs.values())
    total = sum(math.exp(value - top) for value in logs.values())
    scores = [
        TrackScore(
            track,
            math.exp(logs[track] - top) / total,
            evidence[track][0],
            evidence[track][1],
            evidence[track][2],
            evidence[track][3],
        )
        for track in logs
    ]
    return sorted(scores, key=lambda s: (-s.p, s.track))


def _reach_around(
    poses: PoseIndex,
    track: str,
    wrist: str,
    t_best: float,
    plates: Sequence[Plate],
    params: FusionParams,
) -> tuple[Reach, FloatArray]:
    """Find the run of ``wrist`` samples near ``plates`` that contains ``t_best``.

    Returns the reach and its dwell point, the per-axis median of the run's
    samples.
    """
    lookaround = params.reach_lookaround_s
    t, xyz, names = poses.wrist_samples(track, t_best - lookaround, t_best + lookaround)
    mine = names == wrist
    t, xyz = t[mine], xyz[mine]
    distance = np.min(
        np.stack([plate_distances(xyz, plate) for plate in plates]), axis=0
    )
    near = distance <= params.reach_near_m
    index = int(np.searchsorted(t, t_best, side="left"))
    index = min(index, t.shape[0] - 1)
    if not near[index]:
        return Reach(track, wrist, t_best, t_best), xyz[index]

    # Walk outwards while samples stay near and gaps stay short.
    first = index
    while (
        first > 0 and near[first - 1] and t[first] - t[first - 1] <= params.reach_gap_s
    ):
        first -= 1
    last = index
    while (
        last + 1 < t.shape[0]
        and near[last + 1]
        and t[last + 1] - t[last] <= params.reach_gap_s
    ):
        last += 1

    # The hand rests where it acts, so the median of the run locates the
    # plate it touched far better than any single noisy sample.
    dwell: FloatArray = np.median(xyz[first : last + 1], axis=0)
    return Reach(track, wrist, float(t[first]), float(t[last])), dwell


def shelf_offset(point: FloatArray, plates: Sequence[Plate]) -> float:
    """Return how far ``point`` lies along the shelf from the plates' centres.

    The shelf runs along each plate's narrower side. The offset is zero
    between the centres of the outermost plates, so a hand holding an item
    across two plates in its middle is on both.
    """
    axes = {int(np.argmin(plate.size)) for plate in plates}
    if len(axes) == 1:
        axis = axes.pop()
        centres = [plate.center[axis] for plate in plates]
        value = float(point[axis])
        return max(min(centres) - value, value - max(centres), 0.0)
    offsets = []
    for plate in plates:
        axis = int(np.argmin(plate.size))
        offsets.append(abs(float(point[axis]) - plate.center[axis]))
    return min(offsets)


def relink_log_likelihood(
    distance_m: float, gap_s: float, params: FusionParams
) -> float:
    """Return the log density of a lost person reappearing ``distance_m`` away
    after ``gap_s``.

    A person walking at up to ``relink_speed_m_s`` can be anywhere within
    ``r = relink_speed_m_s * gap_s``, so the density is uniform over that
    disc, widened by the position error ``relink_position_sd_m``:
    ``-2 log(r + sd)``. Beyond the disc it falls off as
    ``-0.5 * ((distance - r) / sd) ** 2``. A short gap therefore favours a
    nearby loss, and no gap makes a reappearance farther than one can walk
    likely.
    """
    sd = params.relink_position_sd_m
    radius = params.relink_speed_m_s * gap_s
    excess = max(distance_m - radius, 0.0)
    return -2.0 * math.log(radius + sd) - 0.5 * (excess / sd) ** 2


def is_ambiguous(probabilities: list[float], margin: float) -> bool:
    """Return whether the best probability leads the second by less than ``margin``."""
    ranked = sorted(probabilities, reverse=True)
    if len(ranked) < 2:
        return False
    return ranked[0] - ranked[1] < margin


@dataclass
class AccountBook:
    """Account of each track, and the accounts inside the store.

    Gate rows are applied in time order with ``apply_until``. Staff accounts
    are tracked like others so that their stock work updates the shelves.
    """

    store_id: str
    staff: frozenset[str]
    params: FusionParams = field(default_factory=FusionParams)
    track_account: dict[str, str] = field(default_factory=dict)
    entered_at: dict[str, float] = field(default_factory=dict)
    """Account to the time its first track entered, in entry order."""
    account_tracks: dict[str, list[str]] = field(default_factory=dict)
    exited: set[str] = field(default_factory=set)
    continued: set[str] = field(default_factory=set)
    """Lost tracks that a later track has already been linked to."""
    relinked: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    """Re-linked track to its candidate accounts with probabilities, best first."""
    _pending: list[GateEvent] = field(default_factory=list)

    def add_gate(self, gate: GateEvent) -> None:
        self._pending.append(gate)
        self._pending.sort(key=lambda g: g.t)

    def apply_until(self, t: float) -> None:
        """Apply every queued gate row at or before ``t``."""
        while self._pending and self._pending[0].t <= t:
            gate = self._pending.pop(0)
            if gate.action == "enter":
                if not gate.account:
                    logger.warning(
                        "store %s: enter row of track %s at t=%.2f has no account",
                        self.store_id,
                        gate.track,
                        gate.t,
                    )
                    continue
                self.bind(gate.track, gate.account)
                self.entered_at.setdefault(gate.account, gate.t)
            elif gate.action == "exit":
                self.exited.add(gate.track)
            else:
                logger.warning(
                    "store %s: gate row of track %s has unknown action %r",
                    self.store_id,
                    gate.track,
                    gate.action,
                )

    def bind(self, track: str, account: str) -> None:
        self.track_account[track] = account
        tracks = self.account_tracks.setdefault(account, [])
        if track not in tracks:
            tracks.append(track)

    def present(self) -> list[str]:
        """Return the accounts with a track inside the store, in order of entry."""
        inside = {
            account
            for track, account in self.track_account.items()
            if track not in self.exited and track not in self.continued
        }
        return [account for account in self.entered_at if account in inside]

    def account_of(self, track: str, poses: PoseIndex, now: float) -> str | None:
        """Return the account of ``track``, re-linking it to a lost track if needed.

        A track without an ``enter`` row continues the most likely lost track
        (``relink_log_likelihood``), from the lost track's last sample to this
        track's first. Candidates are bound tracks that have not exited or
        been continued and whose last known sample comes before this track
        appeared: a track still seen after that is not lost. Both the gap
        and the distance must be within ``relink_max_gap_s`` and
        ``relink_max_distance_m``. The other candidates' accounts stay as
        alternatives (``link_options``).
        """
        if track in self.track_account:
            return self.track_account[track]

        # The wrist window reaches past ``now``, so a track may be seen before
        # its own enter row is applied. Such a track is a new entrant.
        for gate in self._pending:
            if gate.action == "enter" and gate.track == track and gate.account:
                self._pending.remove(gate)
                self.bind(track, gate.account)
                self.entered_at.setdefault(gate.account, gate.t)
                return gate.account

        first = poses.first_seen(track)
        if first is None:
            return None
        t0, p0 = first

        logs: dict[str, tuple[float, str]] = {}
        for lost, account in self.track_account.items():
            if lost in self.exited or lost in self.continued:
                continue
            # Every sample known so far counts, including ones after ``now``.
            last = poses.last_seen(lost, math.inf)
            if last is None or last[0] >= t0:
                continue
            gap = t0 - last[0]
            distance = float(np.linalg.norm(p0[:2] - last[1][:2]))
            if gap > self.params.relink_max_gap_s:
                continue
            if distance > self.params.relink_max_distance_m:
                continue
            log = relink_log_likelihood(distance, gap, self.params)
            if account not in logs or log > logs[account][0]:
                logs[account] = (log, lost)

        if not logs:
            logger.warning(
                "store %s: track %s appeared at t=%.2f without an enter row "
                "and no lost track is near it",
                self.store_id,
                track,
                t0,
            )
            return None
        ranked = sorted(logs.items(), key=lambda item: (-item[1][0], item[0]))
        account, (best_log, lost) = ranked[0]
        self.continued.add(lost)
        self.bind(track, account)
        weights = {name: math.exp(log - best_log) for name, (log, _) in ranked}
        total = sum(weights.values())
        self.relinked[track] = [(name, weights[name] / total) for name, _ in ranked]
        logger.info(
            "store %s: track %s continues lost track %s of account %s "
            "(p=%.2f over %d candidate(s))",
            self.store_id,
            track,
            lost,
            account,
            weights[account] / total,
            len(ranked),
        )
        return account

    def link_options(self, track: str) -> list[tuple[str, float]]:
        """Return (account, probability) pairs for ``track``, best first.

        A track bound by an ``enter`` row has one option with probability 1.
        A re-linked track shares its probability over the accounts of the lost
        tracks it may continue, in proportion to their re-link likelihoods.
        Call ``account_of`` first.
        """
        if track in self.relinked:
            return list(self.relinked[track])
        account = self.track_account.get(track)
        return [] if account is None else [(account, 1.0)]
