"""Shelf event detection from load-cell readings.

Each plate is processed on its own. The pipeline per plate is:

1. Split the readings into segments wherever the plate stopped reporting for
   longer than ``DetectorParams.max_gap_s``. No window ever spans a gap.
2. Median-filter each segment, which removes single-sample spikes and short
   bursts.
3. Mark each sample settled or unsettled from two rolling statistics of the
   filtered signal, both computed from cumulative sums. One is the standard
   deviation in a centred window. The other is the difference between the
   means of the window's right and left halves, a step detector that still
   fires on plates whose noise is large.
4. Keep runs of settled samples that last at least ``min_stable_s``, or
   ``min_edge_stable_s`` for a run that a gap or the end of the readings
   cuts short. These are the stable stretches, and each has a level at its
   start and at its end.
5. Compare the level at the end of each stretch with the level at the start
   of the next. A difference of at least ``min_delta_g`` is a change.
   Changes that return to the old level within ``max_excursion_s`` (a lean
   or a press) are dropped. Where a gap lies between the two stretches, the
   readings next to it show whether the level moved before, during or after
   the gap, and a change that happened while the plate sent nothing spans
   the gap (see ``_gap_window``).

Changes on neighbouring plates of one shelf whose windows overlap are then
grouped into shelf events.

Streaming: everything here is stateless and works on whole series. A live
caller feeding one plate window by window would have to keep, per plate:
the last ``median_window_s + stability_window_s`` of readings (so the
rolling filters see their full windows at the seam), the start time and the
running level sums of the current stable stretch, the tail level of the last
finished stretch, the changes of the last ``max_excursion_s`` (they are only
final once no return to the old level can follow), and a running estimate of
the plate's noise (here the median rolling deviation of the whole series).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from itertools import pairwise

import numpy as np
import numpy.typing as npt
from scipy.ndimage import median_filter

from walkout.recording.model import FloatArray, PlateSeries, Store, WeightReadings
from walkout.sensing.model import PlateChange, ShelfEvent

logger = logging.getLogger(__name__)

BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]

# Medians of per-sample values use every fourth sample. The values are regular
# enough that this changes the median very little, for a quarter of the cost.
_NOISE_STRIDE = 4


@dataclass(frozen=True)
class DetectorParams:
    """Thresholds of the shelf event detector (times in seconds, loads in grams)."""

    min_delta_g: float = 10.0
    """Smallest settled level change reported as a plate change. The default
    sits between the largest neighbour coupling seen on the NanoStore data
    (8.4 g when a 538 g bottle left the plate next door) and the smallest real
    share of an item on one plate there (18 g). Raising it hides small items
    and the small share of an item resting on two plates. Lowering it reports
    coupling from neighbours and noise on vibrating gondolas as changes."""

    median_window_s: float = 0.2
    """Width of the median filter. Spikes and bursts shorter than half of it
    vanish. Raising it removes longer bursts but blurs the edges of real
    changes. Lowering it lets short bursts through as unsettled stretches."""

    stability_window_s: float = 0.5
    """Width of the centred window of the rolling deviation and step tests.
    Raising it averages out slower oscillations but merges changes that are
    closer together than about this time. Lowering it reacts faster but lets
    slow wobbles pass as settled."""

    stable_sd_g: float = 2.0
    """Floor of the rolling standard deviation (of the filtered signal) above
    which a sample is unsettled. Raising it accepts more wobble as settled,
    so levels may be measured during transients. Lowering it breaks quiet
    plates into short stretches."""

    stable_sd_factor: float = 4.0
    """The deviation limit is also at least this many times the plate's
    typical rolling deviation, so noisy plates are not unsettled all the
    time. Raising it tolerates more vibration. Lowering it makes noisy
    plates lose their stable stretches."""

    step_fraction: float = 0.5
    """A sample is unsettled where the means of the right and left halves of
    its window differ by more than this fraction of ``min_delta_g``. Raising
    it lets steps hide inside noisy stretches. Lowering it makes vibration
    read as unsettled more often."""

    min_stable_s: float = 0.5
    """Shortest settled run that counts as a stable level. Raising it ignores
    brief pauses during a take but can merge two takes close in time;
    lowering it can report an intermediate pause as its own change."""

    min_edge_stable_s: float = 0.1
    """Minimum length of a settled run, in seconds, that counts as a stable
    level where a gap or the end of the readings cuts it short.

    A plate that stops reporting soon after a take leaves only a fraction of
    a second at the new level before the gap. Without this run the take has
    no level after it when the readings never resume. Raising it drops such
    takes. Lowering it lets a few quiet readings mid-transient pass as a
    level, which gives a change of the wrong size."""

    level_window_s: float = 1.0
    """Length of the part of a stable stretch next to a change whose mean is
    the level. Raising it lowers the noise of the level but lets drift bias
    it. Lowering it follows drift better but with more noise."""

    max_gap_s: float = 0.25
    """A pause between readings longer than this splits the plate into
    segments. It must exceed the sample interval. Raising it lets rolling
    windows bridge short dropouts. Lowering it treats timing jitter as
    dropouts."""

    max_excursion_s: float = 5.0
    """Changes that come back to within ``min_delta_g`` of the old level
    within this time are dropped as a press or lean. Raising it also drops a
    take followed by a put-back of the same weight, whose net is zero anyway.
    Lowering it reports long leans as a change and its reversal."""

    min_sd_g: float = 0.5
    """Floor of a change's standard error. The error is computed as if the
    noise were white, which it is not (the readings oscillate), so the floor
    stops it from claiming more precision than the load cells give. Raising
    it makes all changes less certain. Lowering it trusts the white-noise
    error."""

    group_tolerance_s: float = 0.5
    """Changes on neighbouring plates whose windows are at most this far
    apart join one shelf event. Raising it merges independent events on
    neighbouring plates. Lowering it splits one item's change across plates
    that settle at slightly different times."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"DetectorParams.{spec.name} is {value!r}; "
                    "use a finite value of 0 or more"
                )
        for name in ("min_delta_g", "median_window_s", "stability_window_s"):
            if getattr(self, name) == 0:
                raise ValueError(f"DetectorParams.{name} is 0; use a positive value")


@dataclass
class PlateAnalysis:
    """Intermediate results of the detector for one plate.

    Stretch arrays are parallel: stretch ``k`` covers sample indices
    ``starts[k]`` up to but not including ``ends[k]``. ``head_*`` describe the
    first ``level_window_s`` of a stretch and ``tail_*`` its last.
    """

    plate: str
    t: FloatArray
    g: FloatArray
    smooth: FloatArray
    """Median-filtered readings."""
    rolling_sd: FloatArray
    """Rolling standard deviation of ``smooth`` over the stability window."""
    settled: BoolArray
    noise_sd_g: float
    """Median of the rolling deviation of ``smooth``: the plate's quiet noise."""
    starts: IndexArray
    ends: IndexArray
    head_level: FloatArray
    head_sd: FloatArray
    head_n: IndexArray
    tail_level: FloatArray
    tail_sd: FloatArray
    tail_n: IndexArray
    half_window: int
    """Half-width of the stability window in samples."""
    breaks: IndexArray
    """Indices of the first reading after each pause longer than ``max_gap_s``."""


def detect_events(
    weights: WeightReadings,
    store: Store,
    params: DetectorParams = DetectorParams(),
    *,
    workers: int | None = None,
    progress: Callable[[], None] | None = None,
) -> list[ShelfEvent]:
    """Detect plate changes on every plate and group them into shelf events.

    Plates are analysed on ``workers`` threads (default: the CPU count).
    Most of the work is in numpy calls that release the GIL, so the threads
    overlap, and the result is the same as one plate after the other.
    ``progress`` is called once per plate, in plate order, as its changes
    arrive.
    """
    changes: list[PlateChange] = []
    threads = workers if workers is not None else os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for plate_changes in pool.map(
            lambda series: detect_plate_changes(series, params), weights.series()
        ):
            changes.extend(plate_changes)
            if progress is not None:
                progress()
    events = group_changes(changes, store, params)
    logger.info(
        "detected %d plate changes in %d shelf events over %d readings",
        len(changes),
        len(events),
        len(weights),
    )
    return events


def detect_plate_changes(
    series: PlateSeries, params: DetectorParams = DetectorParams()
) -> list[PlateChange]:
    """Find where one plate's load settles at a new stable level."""
    analysis = analyse_plate(series, params)
    if analysis.starts.size < 2:
        return []

    # Candidate changes: neighbouring stretches whose levels differ enough.
    deltas = analysis.head_level[1:] - analysis.tail_level[:-1]
    candidates = np.flatnonzero(np.abs(deltas) >= params.min_delta_g)
    if candidates.size == 0:
        return []
    windows = _change_windows(analysis, candidates, params)

    # Drop leans and presses: runs of changes that return to the old level.
    kept = _drop_excursions(analysis, candidates, windows, params)

    changes = []
    for boundary, (t_start, t_end) in zip(candidates, windows, strict=True):
        if not kept[boundary]:
            continue
        before, after = boundary, boundary + 1
        variance = (
            analysis.tail_sd[before] ** 2 / analysis.tail_n[before]
            + analysis.head_sd[after] ** 2 / analysis.head_n[after]
        )
        changes.append(
            PlateChange(
                plate=series.plate,
                t_start=t_start,
                t_end=t_end,
                delta_g=float(deltas[boundary]),
                sd_g=max(float(np.sqrt(variance)), params.min_sd_g),
            )
        )
    return changes


def analyse_plate(
    series: PlateSeries, params: DetectorParams = DetectorParams()
) -> PlateAnalysis:
    """Filter one plate's readings and find its stable stretches and their levels.

    Readings whose weight is not finite are dropped and so count as missing.
    Raises ``ValueError`` for arrays of different lengths, times that are not
    finite or go back, or a sample interval longer than ``max_gap_s``.
    """
    t, g = _validated_arrays(series)
    n = t.size
    if n < 2:
        return _empty_analysis(series.plate, t, g)

    steps = _checked_steps(series.plate, t)
    dt = _sample_interval(series.plate, t, steps, params)
    median_size = max(1, round(params.median_window_s / dt) | 1)
    half_window = max(1, round(params.stability_window_s / dt / 2))
    min_stable = max(1, round(params.min_stable_s / dt))
    min_edge_stable = max(1, round(params.min_edge_stable_s / dt))
    level_size = max(1, round(params.level_window_s / dt))

    # The filters run on each gap-free segment alone.
    breaks = np.flatnonzero(steps > params.max_gap_s) + 1
    seg_bounds = np.concatenate(([0], breaks, [n]))

    smooth = np.empty_like(g)
    rolling_sd = np.empty_like(g)
    step = np.empty_like(g)
    for lo, hi in pairwise(seg_bounds.tolist()):
        smooth[lo:hi] = median_filter(g[lo:hi], size=median_size, mode="nearest")
        rolling_sd[lo:hi], step[lo:hi] = _rolling_stats(smooth[lo:hi], half_window)

    noise_sd = float(np.median(rolling_sd[::_NOISE_STRIDE]))
    sd_limit = max(params.stable_sd_g, params.stable_sd_factor * noise_sd)
    step_limit = params.step_fraction * params.min_delta_g
    settled = (rolling_sd <= sd_limit) & (step <= step_limit)

    starts, ends = _runs(settled, breaks, min_stable, min_edge_stable)
    analysis = PlateAnalysis(
        plate=series.plate,
        t=t,
        g=g,
        smooth=smooth,
        rolling_sd=rolling_sd,
        settled=settled,
        noise_sd_g=noise_sd,
        starts=starts,
        ends=ends,
        head_level=np.empty(0),
        head_sd=np.empty(0),
        head_n=np.empty(0, dtype=np.intp),
        tail_level=np.empty(0),
        tail_sd=np.empty(0),
        tail_n=np.empty(0, dtype=np.intp),
        half_window=half_window,
        breaks=breaks,
    )
    _measure_levels(analysis, level_size)
    return analysis


def group_changes(
    changes: list[PlateChange], store: Store, params: DetectorParams = DetectorParams()
) -> list[ShelfEvent]:
    """Group changes on neighbouring plates whose windows overlap into events.

    Neighbours chain, so changes on plates 3, 4 and 5 form one event when
    3 overlaps 4 and 4 overlaps 5. Two changes of the same plate never share
    an event. Events are ordered by start time. Raises ``ValueError`` when a
    change names a plate that ``store`` does not have.
    """
    ordered = sorted(changes, key=lambda change: (change.t_start, change.plate))
    for change in ordered:
        if change.plate not in store.plates:
            raise ValueError(
                f"plate change on plate {change.plate!r} at t={change.t_start:.3f}: "
                "the plate is not in the store layout; add it to store.json plates"
            )
    neighbours = {plate: set(store.neighbours(plate)) for plate in store.plates}

    # Union-find over changes, merging closest pairs first.
    parent = list(range(len(ordered)))
    members: list[set[str]] = [{change.plate} for change in ordered]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs = []
    tolerance = params.group_tolerance_s
    for i, first in enumerate(ordered):
        for j in range(i + 1, len(ordered)):
            second = ordered[j]
            if second.t_start > first.t_end + tolerance:
                # Changes are sorted by start, so no later one overlaps either.
                break
            if second.plate not in neighbours[first.plate]:
                continue
            if first.t_start > second.t_end + tolerance:
                continue
            gap = abs(
                0.5 * (first.t_start + first.t_end)
                - 0.5 * (second.t_start + second.t_end)
            )
            pairs.append((gap, i, j))

    for _, i, j in sorted(pairs):
        root_i, root_j = root(i), root(j)
        if root_i == root_j or members[root_i] & members[root_j]:
            continue
        parent[root_j] = root_i
        members[root_i] |= members[root_j]

    groups: dict[int, list[PlateChange]] = {}
    for i, change in enumerate(ordered):
        groups.setdefault(root(i), []).append(change)
    events = [ShelfEvent(changes=tuple(group)) for group in groups.values()]
    events.sort(key=lambda event: (event.t_start, event.main_plate))
    return events


def _validated_arrays(series: PlateSeries) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(series.t, dtype=np.float64)
    g = np.asarray(series.g, dtype=np.float64)
    if t.ndim != 1 or g.ndim != 1 or t.shape != g.shape:
        raise ValueError(
            f"plate {series.plate!r}: t has shape {t.shape} and g has shape "
            f"{g.shape}; both must be 1-D arrays of the same length"
        )
    if not np.all(np.isfinite(t)):
        bad = int(np.flatnonzero(~np.isfinite(t))[0])
        raise ValueError(
            f"plate {series.plate!r}: reading {bad} has time {t[bad]!r}; "
            "times must be finite"
        )
    finite = np.isfinite(g)
    if not np.all(finite):
        logger.debug(
            "plate %s: dropped %d readings with a non-finite weight",
            series.plate,
            int(np.count_nonzero(~finite)),
        )
        t, g = t[finite], g[finite]
    return t, g


def _checked_steps(plate: str, t: FloatArray) -> FloatArray:
    steps = np.diff(t)
    if np.any(steps < 0):
        first = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(
            f"plate {plate!r}: time goes back from {t[first]!r} to "
            f"{t[first + 1]!r} at reading {first + 1}; sort the readings by time"
        )
    return steps


def _sample_interval(
    plate: str, t: FloatArray, steps: FloatArray, params: DetectorParams
) -> float:
    # Every few intervals suffice for the median of a regular clock.
    sampled = steps[::_NOISE_STRIDE]
    positive = sampled[sampled > 0]
    if positive.size == 0:
        positive = steps[steps > 0]
    if positive.size == 0:
        raise ValueError(
            f"plate {plate!r}: all {t.size} readings share the time {t[0]!r}; "
            "readings need increasing times"
        )
    dt = float(np.median(positive))
    if dt >= params.max_gap_s:
        raise ValueError(
            f"plate {plate!r}: the median sample interval {dt:.4f} s is not below "
            f"DetectorParams.max_gap_s = {params.max_gap_s} s; raise max_gap_s "
            "above the plate's sample interval"
        )
    return dt


def _prefix_sum(values: FloatArray) -> FloatArray:
    sums = np.empty(values.size + 1)
    sums[0] = 0.0
    np.cumsum(values, out=sums[1:])
    return sums


def _rolling_stats(values: FloatArray, half: int) -> tuple[FloatArray, FloatArray]:
    """Return the rolling deviation and step size of one gap-free segment.

    The window of sample ``i`` is ``i - half`` to ``i + half``. The segment is
    padded with copies of its first and last values so that every window is
    full and only slices of prefix sums are needed. The step is the absolute
    difference between the mean of the ``half`` samples after ``i`` and the
    mean of ``i`` and the ``half`` samples before it.
    """
    size = values.size
    pad = half + 1
    width = 2 * half + 1
    padded = np.pad(values - values[0], pad, mode="edge")
    sums = _prefix_sum(padded)
    np.square(padded, out=padded)
    squares = _prefix_sum(padded)

    upper = slice(pad + half + 1, pad + half + 1 + size)
    lower = slice(pad - half, pad - half + size)
    middle = slice(pad + 1, pad + 1 + size)

    mean = sums[upper] - sums[lower]
    mean /= width
    variance = squares[upper] - squares[lower]
    variance /= width
    variance -= mean * mean
    np.maximum(variance, 0.0, out=variance)
    rolling_sd = np.sqrt(variance, out=variance)

    left_mean = sums[middle] - sums[lower]
    left_mean /= half + 1
    step = sums[upper] - sums[middle]
    step /= half
    step -= left_mean
    np.abs(step, out=step)
    return rolling_sd, step


def _runs(
    settled: BoolArray, breaks: IndexArray, min_length: int, min_edge_length: int
) -> tuple[IndexArray, IndexArray]:
    """Return start and end indices of settled runs of at least ``min_length``.

    A gap (an index in ``breaks``) ends a run even when both sides are settled.
    A run that ends at a gap or at the end of the readings needs only
    ``min_edge_length`` samples, or ``min_length`` if that is smaller. Runs
    that start at a gap or at the first reading get no such allowance,
    because a live caller's trimmed buffer starts wherever it was cut, often
    inside a transient.
    """
    edges = np.diff(settled.astype(np.int8), prepend=0, append=0)
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    if breaks.size:
        inside = settled[breaks] & settled[breaks - 1]
        cut = breaks[inside]
        starts = np.sort(np.concatenate((starts, cut)))
        ends = np.sort(np.concatenate((ends, cut)))
    at_edge = np.isin(ends, breaks) | (ends == settled.size)
    needed = np.where(at_edge, min(min_edge_length, min_length), min_length)
    long_enough = ends - starts >= needed
    return starts[long_enough], ends[long_enough]


def _measure_levels(analysis: PlateAnalysis, level_size: int) -> None:
    starts, ends = analysis.starts, analysis.ends
    offset = float(analysis.smooth[0]) if analysis.smooth.size else 0.0
    smooth_sums = _prefix_sum(analysis.smooth - offset)
    raw = analysis.g - offset
    raw_sums = _prefix_sum(raw)
    raw_squares = _prefix_sum(raw * raw)

    def window_stats(
        lo: IndexArray, hi: IndexArray
    ) -> tuple[FloatArray, FloatArray, IndexArray]:
        count = hi - lo
        level = (smooth_sums[hi] - smooth_sums[lo]) / count + offset
        raw_mean = (raw_sums[hi] - raw_sums[lo]) / count
        raw_var = (raw_squares[hi] - raw_squares[lo]) / count - raw_mean**2
        return level, np.sqrt(np.maximum(raw_var, 0.0)), count

    head_hi = np.minimum(starts + level_size, ends)
    tail_lo = np.maximum(ends - level_size, starts)
    analysis.head_level, analysis.head_sd, analysis.head_n = window_stats(
        starts, head_hi
    )
    analysis.tail_level, analysis.tail_sd, analysis.tail_n = window_stats(tail_lo, ends)


def _change_windows(
    analysis: PlateAnalysis, boundaries: IndexArray, params: DetectorParams
) -> list[tuple[float, float]]:
    """Return the time window of the change at each boundary between stretches.

    A boundary without a gap gets the window of its unsettled readings (see
    ``_unsettled_window``), and one with a gap gets ``_gap_window``.
    """
    windows = []
    for boundary in boundaries.tolist():
        first_unsettled = int(analysis.ends[boundary])
        next_start = int(analysis.starts[boundary + 1])
        # A break at either edge means a stretch runs up to the gap.
        inside = (analysis.breaks >= first_unsettled) & (analysis.breaks <= next_start)
        gaps = analysis.breaks[inside]
        if gaps.size == 0:
            windows.append(_unsettled_window(analysis, first_unsettled, next_start - 1))
        else:
            windows.append(
                _gap_window(analysis, boundary, int(gaps[0]), int(gaps[-1]), params)
            )
    return windows


def _unsettled_window(analysis: PlateAnalysis, a: int, b: int) -> tuple[float, float]:
    """Return the window of the unsettled readings ``a`` to ``b`` (inclusive).

    The settled flag turns off half a stability window before a disturbance
    and back on half a window after it, so the window is trimmed by that much
    on both sides, down to the middle sample when it is shorter.
    """
    half = analysis.half_window
    core_a, core_b = a + half, b - half
    if core_a > core_b:
        core_a = core_b = (a + b) // 2
    return float(analysis.t[core_a]), float(analysis.t[core_b])


def _gap_window(
    analysis: PlateAnalysis,
    boundary: int,
    first_break: int,
    last_break: int,
    params: DetectorParams,
) -> tuple[float, float]:
    """Return the window of a change whose unsettled readings contain a gap.

    The readings after the stable stretch and before the first gap (``pre``)
    and those after the last gap and before the next stretch (``post``) are
    compared with the old and the new level. Each side's level is the median
    of the filtered readings next to the gap, or the stretch's own level when
    the side has no readings.

    The change was complete before the gap when ``pre`` already sits at the
    new level, and it came after the gap when ``post`` still sits at the old
    level. Otherwise it happened, at least in part, while the plate sent
    nothing, so the window spans the gap. It starts at the last reading
    before the gap, or earlier where ``pre`` leaves the old level. It ends at
    the first reading after the gap, or later where ``post`` is still
    settling. A level counts as reached within the step limit
    (``step_fraction`` of ``min_delta_g``), or within half the change when
    the change is smaller than twice that.
    """
    t, smooth, half = analysis.t, analysis.smooth, analysis.half_window
    a = int(analysis.ends[boundary])
    b = int(analysis.starts[boundary + 1]) - 1
    old = float(analysis.tail_level[boundary])
    new = float(analysis.head_level[boundary + 1])
    limit = min(params.step_fraction * params.min_delta_g, 0.5 * abs(new - old))

    has_pre = first_break > a
    has_post = b >= last_break
    level_pre, level_post = old, new
    if has_pre:
        pre = smooth[max(a, first_break - half) : first_break]
        level_pre = float(np.median(pre))
    if has_post:
        post = smooth[last_break : min(b + 1, last_break + half)]
        level_post = float(np.median(post))

    if has_pre and abs(level_pre - new) < limit:
        return _unsettled_window(analysis, a, first_break - 1)
    if has_post and abs(level_post - old) < limit:
        return _unsettled_window(analysis, last_break, b)

    start = first_break - 1
    if has_pre and abs(level_pre - old) >= limit:
        start = min(a + half, first_break - 1)
    end = last_break
    if has_post and abs(level_post - new) >= limit:
        end = max(b - half, last_break)
    return float(t[start]), float(t[end])


def _drop_excursions(
    analysis: PlateAnalysis,
    candidates: IndexArray,
    windows: list[tuple[float, float]],
    params: DetectorParams,
) -> dict[int, bool]:
    """Mark candidate boundaries that belong to a lean or press as dropped.

    A run of consecutive candidates that starts at boundary ``i`` and ends at
    boundary ``j`` within ``max_excursion_s`` is an excursion when the level
    after ``j`` is within ``min_delta_g`` of the level before ``i``.
    """
    kept = {int(boundary): True for boundary in candidates}
    position = 0
    while position < candidates.size:
        first = int(candidates[position])
        level_before = analysis.tail_level[first]
        t_first = windows[position][0]
        returned_at = -1
        for later in range(position + 1, candidates.size):
            if windows[later][0] - t_first > params.max_excursion_s:
                break
            level_after = analysis.head_level[int(candidates[later]) + 1]
            if abs(level_after - level_before) < params.min_delta_g:
                returned_at = later
                break
        if returned_at < 0:
            position += 1
            continue
        for dropped in range(position, returned_at + 1):
            kept[int(candidates[dropped])] = False
        position = returned_at + 1
    return kept


def _empty_analysis(plate: str, t: FloatArray, g: FloatArray) -> PlateAnalysis:
    empty_index = np.empty(0, dtype=np.intp)
    return PlateAnalysis(
        plate=plate,
        t=t,
        g=g,
        smooth=g.copy(),
        rolling_sd=np.zeros(t.size),
        settled=np.zeros(t.size, dtype=np.bool_),
        noise_sd_g=0.0,
        starts=empty_index,
        ends=empty_index,
        head_level=np.empty(0),
        head_sd=np.empty(0),
        head_n=empty_index,
        tail_level=np.empty(0),
        tail_sd=np.empty(0),
        tail_n=empty_index,
        half_window=1,
        breaks=empty_index,
    )
