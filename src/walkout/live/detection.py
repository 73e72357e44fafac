"""Incremental shelf event detection over live load-cell readings.

The batch detector (``walkout.sensing.detector``) works on whole series. Live
readings arrive a second at a time, so each plate keeps the last
``history_s`` of its readings and is analysed again as readings arrive. A
plate change is final once the plate's readings reach past it by
``plate_margin_s``: by then the stable stretch after it has its level and any
return to the old level (a lean or a press) within ``max_excursion_s`` has
been seen. An event is decided once every reporting plate is final past its
end by ``group_margin_s`` more, so that no later change can still join it,
and events are handed out in the order replay decides them (by end, then
start). Each event is handed out once. A change across a reading gap starts
before the gap and can be far longer than other changes. So after a plate
resumes, nothing later than the start of its gap is decided until the change
across the gap is final.

``undecided_activity`` returns, per plate, since when it has readings that no
handed-out event covers, so that a visit whose shopper was nowhere near
those plates can be settled without waiting for the margins.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from walkout.recording.model import FloatArray, PlateSeries, Store
from walkout.sensing.detector import (
    DetectorParams,
    analyse_plate,
    detect_plate_changes,
    group_changes,
)
from walkout.sensing.model import PlateChange, ShelfEvent

logger = logging.getLogger(__name__)

DEFAULT_DETECTOR_PARAMS = DetectorParams()

# Longest unsettled window of one plate change that grouping allows for when
# it decides that no later change can join an event, in seconds.
CHANGE_WINDOW_S = 2.0


def plate_margin_s(params: DetectorParams) -> float:
    """Return how far a plate's readings must reach past a change's end to fix it.

    The change needs the stable stretch after it (its filters, its minimum
    length and its level window) and the excursion window that may cancel it.
    One second more covers the unsettled edge at the end of the readings.
    """
    return (
        params.max_excursion_s
        + params.level_window_s
        + params.min_stable_s
        + params.stability_window_s
        + params.median_window_s
        + 1.0
    )


def group_margin_s(params: DetectorParams) -> float:
    """Return how far the final plates must reach past an event's end to decide it."""
    return params.group_tolerance_s + CHANGE_WINDOW_S


@dataclass
class _PlateBuffer:
    t_chunks: list[FloatArray] = field(default_factory=list)
    g_chunks: list[FloatArray] = field(default_factory=list)
    last_t: float = -math.inf
    # Windows of the changes already collected, oldest first.
    collected: list[tuple[float, float]] = field(default_factory=list)
    # Time of the first reading kept after the buffer was last trimmed.
    trimmed_from: float = -math.inf
    # Pauses longer than max_gap_s in the kept readings, oldest first, each
    # as the times of the last reading before it and the first after it.
    pauses: list[tuple[float, float]] = field(default_factory=list)
    dirty: bool = False

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        if len(self.t_chunks) > 1:
            self.t_chunks = [np.concatenate(self.t_chunks)]
            self.g_chunks = [np.concatenate(self.g_chunks)]
        if not self.t_chunks:
            return np.empty(0), np.empty(0)
        return self.t_chunks[0], self.g_chunks[0]

    def trim(self, history_s: float, max_gap_s: float) -> None:
        """Drop readings older than ``history_s`` of reporting time.

        Pauses longer than ``max_gap_s`` do not count towards the history, so
        after a long gap the readings before it stay until the change across
        the gap is final. Memory stays bounded by ``history_s`` of readings.
        """
        t, g = self.arrays()
        keep_from = self.last_t - history_s
        for pause_start, pause_end in reversed(self.pauses):
            if pause_end <= keep_from:
                break
            keep_from -= pause_end - max(pause_start, keep_from)
        start = int(np.searchsorted(t, keep_from, side="left"))
        if start > 0:
            self.t_chunks = [t[start:]]
            self.g_chunks = [g[start:]]
            self.trimmed_from = float(t[start]) if start < t.size else keep_from
        self.collected = [window for window in self.collected if window[1] >= keep_from]
        self.pauses = [pause for pause in self.pauses if pause[1] >= keep_from]

    def note_pauses(self, times: FloatArray, max_gap_s: float) -> None:
        """Record the pauses before and inside ``times``, the next readings.

        A reading with a bad clock, far ahead of the plate's others, looks
        like the end of a pause until the next readings go back before it,
        and such pauses are dropped.
        """
        previous = [chunk[-1] for chunk in self.t_chunks[-1:] if chunk.size]
        edges = np.concatenate((previous, times))
        later_min = np.minimum.accumulate(edges[::-1])[::-1]
        self.pauses = [pause for pause in self.pauses if pause[1] <= later_min[0]]
        for index in np.flatnonzero(np.diff(edges) > max_gap_s).tolist():
            end = float(edges[index + 1])
            if later_min[index + 1] >= end:
                self.pauses.append((float(edges[index]), end))

    def seen(self, change: PlateChange, tolerance_s: float) -> bool:
        """Return whether a change overlapping ``change`` was collected already."""
        return any(
            change.t_start <= end + tolerance_s and change.t_end >= start - tolerance_s
            for start, end in self.collected
        )


class StreamingDetector:
    """Shelf events of one store from readings that arrive in time order per plate.

    ``history_s``: seconds of readings kept per plate, not counting pauses
    longer than ``max_gap_s``, so that a change across a reading gap keeps
    the stable level before the gap. ``stall_s``: a plate whose last reading
    is this much older than the median plate's has stopped reporting, and
    events are decided without waiting for it.
    """

    def __init__(
        self,
        store: Store,
        params: DetectorParams = DEFAULT_DETECTOR_PARAMS,
        *,
        history_s: float = 30.0,
        stall_s: float = 30.0,
    ) -> None:
        self.store = store
        self.params = params
        self.history_s = history_s
        self.stall_s = stall_s
        self.plate_margin = plate_margin_s(params)
        self.group_margin = group_margin_s(params)
        if history_s <= self.plate_margin + params.max_excursion_s:
            raise ValueError(
                f"history_s is {history_s} s; it must exceed "
                f"{self.plate_margin + params.max_excursion_s:.1f} s so that a "
                "change and its excursion window stay in the buffer"
            )
        self._plates: dict[str, _PlateBuffer] = {}
        self._pool: list[PlateChange] = []
        self._decided_until = -math.inf

    def add(self, plate: str, t: FloatArray, g: FloatArray) -> None:
        """Append readings of ``plate``, which ingestion checked are in time order."""
        if t.size == 0:
            return
        buffer = self._plates.setdefault(plate, _PlateBuffer())
        times = np.asarray(t, dtype=np.float64)
        buffer.note_pauses(times, self.params.max_gap_s)
        buffer.t_chunks.append(times)
        buffer.g_chunks.append(np.asarray(g, dtype=np.float64))
        buffer.last_t = max(buffer.last_t, float(t[-1]))
        buffer.dirty = True

    def readings(
        self, plate: str, start: float, end: float
    ) -> tuple[FloatArray, FloatArray]:
        """Return the buffered readings of ``plate`` between ``start`` and ``end``."""
        buffer = self._plates.get(plate)
        if buffer is None:
            return np.empty(0), np.empty(0)
        t, g = buffer.arrays()
        lo = int(np.searchsorted(t, start, side="left"))
        hi = int(np.searchsorted(t, end, side="right"))
        return t[lo:hi], g[lo:hi]

    def active_last_t(self) -> float:
        """Return the oldest last reading among the plates still reporting.

        A plate has stopped reporting when its last reading is ``stall_s``
        older than the median plate's. The median, not the newest, is the
        reference, so a plate whose clock runs ahead (or one reading with a
        bad time) cannot make the others look stalled and move the frontier.
        """
        if not self._plates:
            return -math.inf
        last = np.array([buffer.last_t for buffer in self._plates.values()])
        reference = float(np.median(last))
        return float(last[last >= reference - self.stall_s].min())

    def decided_until(self) -> float:
        """Return the time up to which every event ending then has been handed out."""
        return self._decided_until

    def frontier(self) -> float:
        """Return the end time up to which events can be decided now.

        Besides the margins behind the reporting plates, the frontier stays
        ``group_margin`` before the start of any pause that ended less than
        ``plate_margin + CHANGE_WINDOW_S`` before its plate's last reading. A
        change across that pause starts before it, may not be collected yet,
        and may join events that end during the pause.
        """
        frontier = self.active_last_t() - self.plate_margin - self.group_margin
        wait = self.plate_margin + CHANGE_WINDOW_S
        for buffer in self._plates.values():
            for pause_start, pause_end in buffer.pauses:
                if pause_end > buffer.last_t - wait:
                    frontier = min(frontier, pause_start - self.group_margin)
        return frontier

    def ready_events(self) -> list[ShelfEvent]:
        """Return the events that became final since the last call, in replay order."""
        self._collect()
        frontier = self.frontier()
        if frontier <= self._decided_until or not self._pool:
            self._decided_until = max(self._decided_until, frontier)
            return []
        events = group_changes(self._pool, self.store, self.params)
        ready = [event for event in events if event.t_end <= frontier]
        ready.sort(key=lambda event: (event.t_end, event.t_start))
        handed_out = {id(change) for event in ready for change in event.changes}
        self._pool = [change for change in self._pool if id(change) not in handed_out]
        self._decided_until = frontier
        return ready

    def events_past_excursions(
        self, plates: Collection[str]
    ) -> list[ShelfEvent] | None:
        """Hand out the undecided changes of ``plates`` without the excursion wait.

        For a caller that knows no one can return the load any more, because
        the only shopper near these plates has left. A change counts once the
        level after it is measured, ``plate_margin - max_excursion_s`` past
        its end, and the plate's readings after it hold that level. Returns
        None and hands out nothing while any plate is not that far yet. The
        changes are grouped among themselves, so ``plates`` must include every
        neighbour whose changes could join them.
        """
        self._collect()
        wait = self.plate_margin - self.params.max_excursion_s
        pooled = [change for change in self._pool if change.plate in plates]
        fresh: list[PlateChange] = []
        for plate in plates:
            buffer = self._plates.get(plate)
            if buffer is None:
                continue
            found = self._fresh_changes(plate, buffer)
            if found is None or any(c.t_end > buffer.last_t - wait for c in found):
                return None
            fresh += found
        changes = pooled + fresh
        if not changes:
            return []
        for change in fresh:
            self._plates[change.plate].collected.append((change.t_start, change.t_end))
        handed_out = {id(change) for change in pooled}
        self._pool = [change for change in self._pool if id(change) not in handed_out]
        events = group_changes(changes, self.store, self.params)
        events.sort(key=lambda event: (event.t_end, event.t_start))
        return events

    def _fresh_changes(
        self, plate: str, buffer: _PlateBuffer
    ) -> list[PlateChange] | None:
        """Return the uncollected changes of ``plate``; None while one is under way."""
        t, g = buffer.arrays()
        try:
            changes = detect_plate_changes(PlateSeries(plate, t, g), self.params)
        except ValueError:
            return None
        earliest = buffer.trimmed_from + self.plate_margin
        tolerance = self.params.median_window_s
        fresh = [
            change
            for change in changes
            if change.t_start >= earliest and not buffer.seen(change, tolerance)
        ]
        settled_from = max(
            [end for _, end in buffer.collected] + [c.t_end for c in fresh],
            default=buffer.trimmed_from,
        )
        lo = int(np.searchsorted(t, settled_from, side="right"))
        if lo < t.size and self._activity_start(plate, t[lo:], g[lo:]) is not None:
            return None
        return fresh

    def undecided_activity(self) -> dict[str, float]:
        """Return, per plate, when its earliest activity not yet handed out began.

        Activity is a collected change still waiting to be grouped, or
        readings after the plate's last collected change that stop being one
        stable level (see ``_activity_start``). Readings are dated back by
        the median and stability windows, which is how far before them the
        detector can place a change's start. Plates with no such activity are
        left out.
        """
        self._collect()
        starts: dict[str, float] = {}
        for change in self._pool:
            starts[change.plate] = min(
                starts.get(change.plate, math.inf), change.t_start
            )
        lead = self.params.median_window_s + self.params.stability_window_s
        for plate, buffer in self._plates.items():
            t, g = buffer.arrays()
            since = max(
                (end for _, end in buffer.collected), default=buffer.trimmed_from
            )
            lo = int(np.searchsorted(t, since, side="right"))
            if lo >= t.size:
                continue
            start = self._activity_start(plate, t[lo:], g[lo:])
            if start is not None:
                starts[plate] = min(starts.get(plate, math.inf), start - lead)
        return starts

    def _activity_start(self, plate: str, t: FloatArray, g: FloatArray) -> float | None:
        """Return when the readings first stop being one stable level, if they do.

        Stable stretches come from the batch detector's analysis, so a
        plate's own noise sets what counts as unsettled. Two neighbouring
        stretches whose levels differ by ``min_delta_g`` mark activity at the
        end of the first. An unsettled tail whose median leaves the last
        level by ``step_fraction`` of it marks activity too, and so does a
        series with no stable stretch yet.
        """
        params = self.params
        try:
            analysis = analyse_plate(PlateSeries(plate, t, g), params)
        except ValueError:
            return float(t[0])
        starts, ends = analysis.starts, analysis.ends
        if starts.size == 0:
            return float(t[0])
        deltas = np.abs(analysis.head_level[1:] - analysis.tail_level[:-1])
        moved = np.flatnonzero(deltas >= params.min_delta_g)
        if moved.size:
            return float(t[ends[moved[0]] - 1])
        # A vibrating plate swings about its level; a hand moves the median.
        tail = analysis.smooth[ends[-1] :]
        step_limit = params.step_fraction * params.min_delta_g
        if tail.size and abs(np.median(tail) - analysis.tail_level[-1]) >= step_limit:
            return float(t[ends[-1] - 1])
        return None

    def _collect(self) -> None:
        for plate, buffer in self._plates.items():
            if not buffer.dirty:
                continue
            buffer.dirty = False
            horizon = buffer.last_t - self.plate_margin
            # Changes next to a trimmed edge are partial views of earlier ones.
            earliest = buffer.trimmed_from + self.plate_margin
            t, g = buffer.arrays()
            try:
                changes = detect_plate_changes(PlateSeries(plate, t, g), self.params)
            except ValueError as error:
                # NOTE: readings this plate cannot be analysed on (for example
                # a sample interval above max_gap_s) give no events at all.
                logger.warning("plate %s: detection failed: %s", plate, error)
                changes = []
            # The plate's noise level is estimated from the buffered readings,
            # so a change's window can move by a few samples between analyses.
            # A change is therefore matched to collected ones by overlap.
            tolerance = self.params.median_window_s
            for change in changes:
                if change.t_end > horizon or change.t_start < earliest:
                    continue
                if buffer.seen(change, tolerance):
                    continue
                buffer.collected.append((change.t_start, change.t_end))
                self._pool.append(change)
            buffer.trim(self.history_s, self.params.max_gap_s)
