"""Noise statistics of load-cell plates, for tuning the detector and a simulator.

``measure_noise`` measures each live plate over its settled stretches (as the
detector finds them) and summarises across plates.

Measured on the AiFi NanoStore recording ``cps-test-01`` (348 plate files,
60 Hz, 33.6 s, 2020-01-28) with default parameters:

- 54 of the 348 plates are dead: they repeat one value or a handful of
  values (white noise under 0.1 g). The 294 live plates follow.
- White noise (first differences of settled readings): median 1.09 g per
  plate, 10th to 90th percentile 0.70 to 3.6 g, max 9.9 g. Readings are
  quantised in steps of about 0.12 g. Gondolas 2 to 5 are quiet (shelf
  medians 0.75 to 1.35 g). On gondola 1 the noise grows with the shelf:
  the shelf medians are 1.0, 0.8, 2.4, 3.4, 5.1 and 6.9 g for shelves 1 to
  6. Shelves 3 to 6 there also have bursts of oscillation at a few hertz,
  shared by the whole gondola. They last a few seconds and reach 310 g peak
  to peak on shelf 6.
  Under the detector's adaptive limits the median plate is never unsettled
  and the 90th percentile plate is unsettled 3.5 % of the time.
- Drift over settled stretches of at least 10 s: median 0.20 g/min in
  absolute value, 90th percentile 1.6 g/min. A 33 s recording cannot tell
  drift from slow wobble, so these are upper bounds.
- Spikes (readings more than max(5 g, 6 noise sd) off the median-filtered
  signal, counted in calm readings only): 5.6 per plate-minute, median size
  8.9 g, max 40 g.
- Sample interval: median 16.67 ms (60 Hz). The median plate's interval sd
  is 0.73 ms, and single intervals range from 3.0 to 36.8 ms, with no gap.
  The raw files of gondola 4 each contain one reading that steps 4.7 ms back
  in time.
- Neighbour coupling: when 558 g left plate 1.5.10, its neighbours 1.5.9
  and 1.5.11 settled 8.1 and 9.4 g lower (1.5 and 1.7 % of the change).
  When the 105.5 g item left plates 2.5.3 to 2.5.5, the outer neighbours
  2.5.2 and 2.5.6 moved by +2.2 and +1.0 g.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, fields

import numpy as np

from walkout.recording.model import FloatArray, PlateSeries, Store
from walkout.sensing.detector import (
    BoolArray,
    DetectorParams,
    PlateAnalysis,
    analyse_plate,
    detect_plate_changes,
)
from walkout.sensing.model import PlateChange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoiseParams:
    """Thresholds of the noise measurement."""

    dead_sd_g: float = 0.1
    """Plates whose white noise is below this are dead (no load cell) and
    left out. Raising it drops quiet live plates. Lowering it counts dead
    plates, which pull the noise statistics towards zero."""

    spike_factor: float = 6.0
    """A reading further than this many noise sds from the median-filtered
    signal is a spike. Raising it counts only large spikes. Lowering it
    counts ordinary noise as spikes."""

    spike_min_g: float = 5.0
    """A spike is also at least this far off, so quantisation steps on quiet
    plates do not count. Raising it misses small spikes. Lowering it counts
    quantisation and noise."""

    drift_min_stretch_s: float = 10.0
    """Only settled stretches at least this long give a drift slope. Raising
    it gives fewer but steadier slopes. Lowering it mistakes slow wobble
    for drift."""

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"NoiseParams.{spec.name} is {value!r}; "
                    "use a finite value of 0 or more"
                )


@dataclass(frozen=True)
class PlateNoise:
    """Noise statistics of one live plate."""

    plate: str
    duration_min: float
    """Time over which spikes were counted: the calm part of the readings."""
    noise_sd_g: float
    """White noise sd from first differences of settled, spike-free readings."""
    drift_g_per_min: float
    """Duration-weighted slope of the long settled stretches, or NaN without one."""
    spike_sizes_g: tuple[float, ...]
    """Largest deviation of each spike from the filtered signal."""
    unsettled_fraction: float
    sample_interval_s: float
    interval_sd_s: float
    """Standard deviation of the sample intervals, gaps left out."""
    gap_count: int


@dataclass(frozen=True)
class NeighbourShift:
    """How far a neighbour plate settled while a change happened next to it."""

    plate: str
    neighbour: str
    change_g: float
    shift_g: float

    @property
    def ratio(self) -> float:
        """Return the shift as a fraction of the change, both absolute."""
        return abs(self.shift_g) / abs(self.change_g)


@dataclass(frozen=True)
class NoiseStats:
    """Noise statistics of a set of plates, with summaries across live plates."""

    plates: tuple[PlateNoise, ...]
    dead_plates: tuple[str, ...]
    neighbour_shifts: tuple[NeighbourShift, ...]

    def noise_sd_percentiles(self) -> tuple[float, float, float]:
        """Return the 10th, 50th and 90th percentile of the plates' noise sd."""
        return _percentiles([plate.noise_sd_g for plate in self.plates])

    def drift_percentiles(self) -> tuple[float, float, float]:
        """Return the 10th, 50th and 90th percentile of the absolute drift."""
        drifts = [abs(plate.drift_g_per_min) for plate in self.plates]
        return _percentiles([drift for drift in drifts if math.isfinite(drift)])

    def unsettled_percentiles(self) -> tuple[float, float, float]:
        """Return the 10th, 50th and 90th percentile of the unsettled fraction."""
        return _percentiles([plate.unsettled_fraction for plate in self.plates])

    @property
    def spikes_per_plate_min(self) -> float:
        minutes = sum(plate.duration_min for plate in self.plates)
        count = sum(len(plate.spike_sizes_g) for plate in self.plates)
        return count / minutes if minutes > 0 else math.nan

    @property
    def spike_sizes_g(self) -> tuple[float, ...]:
        return tuple(size for plate in self.plates for size in plate.spike_sizes_g)

    @property
    def sample_interval_s(self) -> float:
        """Median over plates of each plate's median sample interval."""
        return _median([plate.sample_interval_s for plate in self.plates])

    @property
    def interval_sd_s(self) -> float:
        """Median over plates of each plate's interval standard deviation."""
        return _median([plate.interval_sd_s for plate in self.plates])


def measure_noise(
    series_list: list[PlateSeries],
    *,
    store: Store | None = None,
    params: NoiseParams = NoiseParams(),
    detector: DetectorParams | None = None,
) -> NoiseStats:
    """Measure the noise of each plate and, given a store, neighbour coupling.

    Neighbour shifts are measured for every change the detector finds: each
    neighbour of the changed plate that has no change of its own overlapping
    in time gives the difference of its levels just before and just after.
    ``detector`` defaults to ``DetectorParams()``.
    """
    detector = detector or DetectorParams()
    analyses = {series.plate: analyse_plate(series, detector) for series in series_list}
    plates = []
    dead = []
    for analysis in analyses.values():
        plate_noise = _measure_plate(analysis, params, detector)
        if plate_noise is None:
            dead.append(analysis.plate)
        else:
            plates.append(plate_noise)

    shifts: list[NeighbourShift] = []
    if store is not None:
        shifts = _neighbour_shifts(series_list, analyses, store, detector)
    logger.info(
        "measured noise of %d live plates (%d dead), %d neighbour shifts",
        len(plates),
        len(dead),
        len(shifts),
    )
    return NoiseStats(tuple(plates), tuple(dead), tuple(shifts))


def _measure_plate(
    analysis: PlateAnalysis, params: NoiseParams, detector: DetectorParams
) -> PlateNoise | None:
    t, g = analysis.t, analysis.g
    if t.size < 3:
        return None
    intervals = np.diff(t)
    in_segment = intervals <= detector.max_gap_s

    # A first noise estimate, spikes included, sets the spike limit.
    pair_ok = analysis.settled[1:] & analysis.settled[:-1] & in_segment
    first_noise = _white_noise_sd(np.diff(g)[pair_ok])
    if not first_noise > params.dead_sd_g:
        return None
    spike_limit = max(params.spike_min_g, params.spike_factor * first_noise)

    # Spikes are runs of readings far from the median-filtered signal. Only
    # calm readings count, because on a vibrating plate every peak would pass.
    residual = np.abs(g - analysis.smooth)
    calm = analysis.settled & (analysis.rolling_sd <= detector.stable_sd_g)
    spiking = (residual > spike_limit) & calm
    spike_sizes = _run_maxima(spiking, residual)

    # White noise from differences of neighbouring quiet readings.
    quiet = analysis.settled & ~spiking
    pair_ok = quiet[1:] & quiet[:-1] & in_segment
    noise_sd = _white_noise_sd(np.diff(g)[pair_ok])

    duration_min = float(np.count_nonzero(calm) * np.median(intervals)) / 60.0
    return PlateNoise(
        plate=analysis.plate,
        duration_min=duration_min,
        noise_sd_g=noise_sd,
        drift_g_per_min=_drift(analysis, params),
        spike_sizes_g=tuple(float(size) for size in spike_sizes),
        unsettled_fraction=float(np.mean(~analysis.settled)),
        sample_interval_s=float(np.median(intervals)),
        interval_sd_s=float(np.std(intervals[in_segment])),
        gap_count=int(np.count_nonzero(~in_segment)),
    )


def _white_noise_sd(differences: FloatArray) -> float:
    if differences.size < 2:
        return 0.0
    return float(np.std(differences) / math.sqrt(2.0))


def _run_maxima(flags: BoolArray, values: FloatArray) -> FloatArray:
    """Return the maximum of ``values`` over each run of true ``flags``."""
    edges = np.diff(flags.astype(np.int8), prepend=0)
    starts = np.flatnonzero(edges == 1)
    if starts.size == 0:
        return np.empty(0)
    masked = np.where(flags, values, -np.inf)
    return np.maximum.reduceat(masked, starts)[: starts.size]


def _drift(analysis: PlateAnalysis, params: NoiseParams) -> float:
    """Return the duration-weighted least-squares slope of long stretches."""
    slopes = []
    weights = []
    for start, end in zip(
        analysis.starts.tolist(), analysis.ends.tolist(), strict=True
    ):
        t = analysis.t[start:end]
        if t.size < 3 or t[-1] - t[0] < params.drift_min_stretch_s:
            continue
        slope = np.polyfit(t - t[0], analysis.smooth[start:end], 1)[0]
        slopes.append(float(slope) * 60.0)
        weights.append(float(t[-1] - t[0]))
    if not slopes:
        return math.nan
    return float(np.average(slopes, weights=weights))


def _neighbour_shifts(
    series_list: list[PlateSeries],
    analyses: dict[str, PlateAnalysis],
    store: Store,
    detector: DetectorParams,
) -> list[NeighbourShift]:
    changes = {
        series.plate: detect_plate_changes(series, detector) for series in series_list
    }
    shifts = []
    for plate, plate_changes in changes.items():
        if plate not in store.plates:
            raise ValueError(
                f"plate {plate!r} has readings but is not in the store layout; "
                "add it to store.json plates"
            )
        for change in plate_changes:
            for neighbour in store.neighbours(plate):
                if neighbour not in analyses:
                    continue
                if _overlaps(change, changes.get(neighbour, []), detector):
                    continue
                shift = _level_shift(analyses[neighbour], change, detector)
                if shift is not None:
                    shifts.append(
                        NeighbourShift(plate, neighbour, change.delta_g, shift)
                    )
    return shifts


def _overlaps(
    change: PlateChange, others: list[PlateChange], detector: DetectorParams
) -> bool:
    tolerance = detector.group_tolerance_s
    return any(
        other.t_start <= change.t_end + tolerance
        and change.t_start <= other.t_end + tolerance
        for other in others
    )


def _level_shift(
    analysis: PlateAnalysis, change: PlateChange, detector: DetectorParams
) -> float | None:
    """Return the neighbour's settled level after the change minus before it."""
    t, smooth, settled = analysis.t, analysis.smooth, analysis.settled
    before = (
        settled
        & (t < change.t_start)
        & (t >= change.t_start - detector.level_window_s - 1.0)
    )
    after = (
        settled
        & (t > change.t_end)
        & (t <= change.t_end + detector.level_window_s + 1.0)
    )
    if not before.any() or not after.any():
        return None
    return float(np.median(smooth[after]) - np.median(smooth[before]))


def _percentiles(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (math.nan, math.nan, math.nan)
    low, mid, high = np.percentile(values, [10, 50, 90])
    return (float(low), float(mid), float(high))


def _median(values: list[float]) -> float:
    return float(np.median(values)) if values else math.nan
