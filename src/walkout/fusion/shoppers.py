"""Shopper association: which tracked person touched a plate, and whose account pays.

Association scores each track by the closest approach of either wrist to
the event's plates during the event window. Accounts come from gate rows,
and a track that appears without an ``enter`` row is re-linked to the
account of the track lost most recently near where it appeared.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

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
class TrackScore:
    """A track's probability of having caused an event, and its best wrist distance."""

    track: str
    p: float
    distance_m: float


@dataclass
class _Track:
    wrist_t: FloatArray
    wrist_xyz: FloatArray
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
            self._tracks[str(name)] = _Track(t[wrist], xyz[wrist], t[body], xyz[body])
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
        data = self.tracks[track]
        lo = int(np.searchsorted(data.wrist_t, start, side="left"))
        hi = int(np.searchsorted(data.wrist_t, end, side="right"))
        return data.wrist_xyz[lo:hi]


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
) -> list[TrackScore]:
    """Rank the tracks whose wrists were tracked during ``event``.

    Each track's likelihood is ``exp(-d**2 / (2 * reach_sd_m**2))`` for its
    smallest wrist-to-plate distance ``d`` over both wrists, every sample in
    the event window widened by ``wrist_window_margin_s``, and every plate of
    the event. Likelihoods are normalised over tracks. Returns an empty list
    when no track has wrist samples in the window.
    """
    plate_list = list(plates)
    if not plate_list:
        return []
    start = event.t_start - params.wrist_window_margin_s
    end = event.t_end + params.wrist_window_margin_s

    # Best (smallest) distance of each track in the window.
    best: dict[str, float] = {}
    for track in poses.tracks:
        points = poses.wrists(track, start, end)
        if points.shape[0] == 0:
            continue
        best[track] = min(
            float(plate_distances(points, plate).min()) for plate in plate_list
        )
    if not best:
        return []

    # Gaussian likelihood in the log domain, normalised over tracks.
    logs = {track: -0.5 * (d / params.reach_sd_m) ** 2 for track, d in best.items()}
    top = max(logs.values())
    total = sum(math.exp(value - top) for value in logs.values())
    scores = [
        TrackScore(track, math.exp(logs[track] - top) / total, best[track])
        for track in best
    ]
    return sorted(scores, key=lambda s: (-s.p, s.track))


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

        A track without an ``enter`` row continues the lost track with the
        least cost ``distance + relink_speed_m_s * gap``, measured from the
        lost track's last sample to this track's first. Candidates are bound
        tracks that have not exited or been continued and were last seen
        before this track appeared. Both the gap and the distance must be
        within ``relink_max_gap_s`` and ``relink_max_distance_m``.
        """
        if track in self.track_account:
            return self.track_account[track]
        first = poses.first_seen(track)
        if first is None:
            return None
        t0, p0 = first

        best: tuple[float, str] | None = None
        for lost in self.track_account:
            if lost in self.exited or lost in self.continued:
                continue
            last = poses.last_seen(lost, now)
            if last is None or last[0] >= t0:
                continue
            gap = t0 - last[0]
            distance = float(np.linalg.norm(p0[:2] - last[1][:2]))
            if gap > self.params.relink_max_gap_s:
                continue
            if distance > self.params.relink_max_distance_m:
                continue
            cost = distance + self.params.relink_speed_m_s * gap
            if best is None or cost < best[0]:
                best = (cost, lost)

        if best is None:
            logger.warning(
                "store %s: track %s appeared at t=%.2f without an enter row "
                "and no lost track is near it",
                self.store_id,
                track,
                t0,
            )
            return None
        lost = best[1]
        account = self.track_account[lost]
        self.continued.add(lost)
        self.bind(track, account)
        logger.info(
            "store %s: track %s continues lost track %s of account %s",
            self.store_id,
            track,
            lost,
            account,
        )
        return account
