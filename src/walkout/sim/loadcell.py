"""Load-cell readings: true plate loads plus the errors of real shelf scales.

The numbers in ``LoadCellModel`` were measured on the AiFi NanoStore weight
series of test case cps-test-01 (348 plates, 2016 readings each at 60 Hz,
33.6 s, published with the CPS-IoT Week 2020 AutoCheckout competition). A
plate counts as quiet when its one-second means vary by less than three
times its typical within-second sd plus 1 g, which left 290 plates. The
residual is each reading minus a 31-sample running median. Numbers were
computed with numpy 1.26 and scipy's ``median_filter``. Where no
measurement was possible the docstring calls the value an estimate.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from walkout.recording.model import FloatArray, WeightReadings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadCellModel:
    """Sampling, noise, drift, spike, gain and transient statistics of the plates."""

    rate_hz: float = 60.0
    """Nominal reading rate. Median sample interval in cps-test-01: 16.667 ms."""

    rate_sd_fraction: float = 0.001
    """Spread of each plate's clock rate around ``rate_hz`` (estimate). The
    NanoStore plates share one clock, but the format lets each plate keep its own."""

    jitter_sd_s: float = 0.0007
    """Per-reading timing jitter. Median over plates of the sd of the sample
    interval in cps-test-01: 0.73 ms."""

    quantum_g: float = 0.241
    """Resolution of a reading. Smallest step between distinct values, the same
    on every cps-test-01 plate."""

    noise_sd_median_g: float = 0.93
    """Median white-noise sd of a plate. Robust sd of the residual on the quiet
    plates: p10 0.58, p50 0.93, p90 3.9, p99 15.9 g."""

    noise_sd_log_sigma: float = 1.1
    """Log-normal spread of the plate noise sd across plates, fitted to the p50
    and p90 above (exp(1.28 * 1.1) = 4.1 = 3.9 / 0.93)."""

    noise_sd_max_g: float = 12.0
    """Cap on one plate's noise sd. The noisiest 1 % of real plates reach 16 g;
    raising the cap makes small items undetectable on a few plates."""

    drift_walk_median_g: float = 0.04
    """Median random-walk drift in g per square-root second. A Brownian range of
    1.6 * sigma * sqrt(33.6 s) matches the median 0.56 g range of one-second
    means on the quiet plates after subtracting the noise part."""

    drift_walk_log_sigma: float = 1.0
    """Log-normal spread of the random-walk drift across plates, set so that the
    p90 range of one-second means comes near the measured 2.3 g."""

    drift_slope_median_g_per_s: float = 0.0026
    """Median absolute linear drift. Least-squares slope of the quiet plates:
    p50 0.0026, p90 0.021 g/s."""

    drift_slope_log_sigma: float = 1.6
    """Log-normal spread of the linear drift across plates (p90 / p50 = 8)."""

    spike_rate_hz: float = 0.22
    """Spikes per plate per second. Onsets of residuals above max(6 sd, 2 g) on
    the quiet plates, where 98 % of plates show at least one in 33.6 s."""

    spike_median_g: float = 7.7
    """Median absolute spike height. Same spikes: p50 7.7 g, p90 35 g."""

    spike_log_sigma: float = 1.18
    """Log-normal spread of spike heights, fitted to the p50 and p90 above."""

    spike_max_g: float = 150.0
    """Cap on one spike's height (estimate)."""

    spike_width_probabilities: tuple[float, ...] = (0.68, 0.24, 0.08)
    """Probability that a spike lasts 1, 2 or 3 readings. Run lengths of the
    same spikes: 1430, 513 and 181 runs of 1, 2 and 3 or more readings."""

    gain_sd: float = 0.025
    """Sd of each plate's relative gain error. A 538 g FIJI water bottle taken
    from plate 1.5.10 in cps-test-01 shows a 557 g step (+3.5 %)."""

    gain_max: float = 0.05
    """Bound on the relative gain error."""

    tare_range_g: tuple[float, float] = (230.0, 3000.0)
    """Range of the unzeroed empty-plate reading (p10 and p90 of plate levels in
    cps-test-01)."""

    neighbour_coupling_range: tuple[float, float] = (0.010, 0.020)
    """Fraction of a plate's change that also shows, with the same sign, on each
    neighbour of the shelf. Plate 1.5.9 moved by -8 g when 557 g left 1.5.10."""

    press_g_range: tuple[float, float] = (5.0, 20.0)
    """Extra load while a hand presses on the plate before lifting. The
    cps-test-01 takes show +8 to +17 g just before the drop."""

    ring_fraction_range: tuple[float, float] = (0.02, 0.35)
    """Damped oscillation right after a step, relative to the step. The FIJI
    take rings by about 2 %, the two-plate Taco Bell take by about 35 %."""

    ring_hz_range: tuple[float, float] = (2.0, 4.0)
    """Frequency of that oscillation (estimate from 0.1 s means of the same
    takes)."""

    impact_fraction_range: tuple[float, float] = (0.3, 1.0)
    """Height of the impact spike when an item lands, relative to its weight
    (estimate)."""

    impact_decay_s: float = 0.06
    """Time constant of the impact spike's decay (estimate)."""


@dataclass(frozen=True)
class LoadEvent:
    """One change of one plate's true load and the transient around it.

    Times are on the recording clock: the hand touches at ``t_touch``, the
    load steps by ``delta_g`` at ``t_step`` and rests from ``t_settled``.
    ``impact_g`` is non-zero when an item lands on the plate, and the spike
    decays with time constant ``impact_decay_s``.
    """

    plate: str
    t_touch: float
    t_step: float
    t_settled: float
    delta_g: float
    press_g: float
    ring_fraction: float
    ring_hz: float
    impact_g: float = 0.0
    impact_decay_s: float = 0.06

    @property
    def t_mid(self) -> float:
        """Return the middle of the weight change, from touch to rest."""
        return 0.5 * (self.t_touch + self.t_settled)


@dataclass(frozen=True)
class PressLoad:
    """Extra load on one plate from a hand or body pushing on it, then letting go.

    The load rises smoothly from ``t_start`` to ``grams`` within ``ramp_s``,
    sways by ``sway_fraction`` of itself at ``sway_hz`` while held, and falls
    back to zero by ``t_end``. The plate's resting load does not change.
    """

    plate: str
    t_start: float
    t_end: float
    grams: float
    ramp_s: float
    sway_fraction: float = 0.0
    sway_hz: float = 1.0


@dataclass(frozen=True)
class ReadingGap:
    """A plate that stops reporting: no readings in ``[t_start, t_end)``."""

    plate: str
    t_start: float
    t_end: float


@dataclass(frozen=True)
class DriftBurst:
    """A spell of fast drift on one plate.

    The reading's offset rises smoothly to ``peak_g`` over the first half of
    ``[t_start, t_end]``, moves to ``end_g`` over the second half and stays
    there, as creep and temperature steps leave a plate off its old zero.
    """

    plate: str
    t_start: float
    t_end: float
    peak_g: float
    end_g: float


@dataclass(frozen=True)
class SpikeBurst:
    """A spell of dense spikes on one plate, such as from a loose cable.

    Spikes start at ``rate_hz`` within ``[t_start, t_end]``, with log-normal
    heights of median ``median_g`` and random sign, each 1 to 3 readings long.
    """

    plate: str
    t_start: float
    t_end: float
    rate_hz: float
    median_g: float


PlateFault = ReadingGap | DriftBurst | SpikeBurst


@dataclass(frozen=True)
class PlateSensor:
    """The fixed properties of one simulated load cell."""

    plate: str
    tare_g: float
    gain: float
    noise_sd_g: float
    drift_walk_g: float
    drift_slope_g_per_s: float
    rate_hz: float
    phase_s: float


def draw_sensor(
    plate: str, model: LoadCellModel, rng: np.random.Generator
) -> PlateSensor:
    """Draw the tare, gain, noise and drift of one plate from ``model``."""
    noise = model.noise_sd_median_g * np.exp(model.noise_sd_log_sigma * rng.normal())
    walk = model.drift_walk_median_g * np.exp(model.drift_walk_log_sigma * rng.normal())
    slope = model.drift_slope_median_g_per_s * np.exp(
        model.drift_slope_log_sigma * rng.normal()
    )
    gain_error = np.clip(
        rng.normal(0.0, model.gain_sd), -model.gain_max, model.gain_max
    )
    return PlateSensor(
        plate=plate,
        tare_g=float(rng.uniform(*model.tare_range_g)),
        gain=float(1.0 + gain_error),
        noise_sd_g=float(min(noise, model.noise_sd_max_g)),
        drift_walk_g=float(walk),
        drift_slope_g_per_s=float(slope * rng.choice((-1.0, 1.0))),
        rate_hz=float(model.rate_hz * (1.0 + rng.normal(0.0, model.rate_sd_fraction))),
        phase_s=float(rng.uniform(0.0, 1.0 / model.rate_hz)),
    )


def sample_times(
    sensor: PlateSensor,
    t_start: float,
    t_end: float,
    model: LoadCellModel,
    rng: np.random.Generator,
) -> FloatArray:
    """Return one plate's jittered, increasing reading times in ``[t_start, t_end]``."""
    period = 1.0 / sensor.rate_hz
    count = int(np.floor((t_end - t_start - sensor.phase_s) / period)) + 1
    nominal = t_start + sensor.phase_s + period * np.arange(count)

    # Jitter stays under 40 % of a period so the order of readings never changes.
    jitter = np.clip(
        rng.normal(0.0, model.jitter_sd_s, count), -0.4 * period, 0.4 * period
    )
    times = nominal + jitter
    return times[(times >= t_start) & (times <= t_end)]


def true_load(
    times: FloatArray, initial_g: float, events: Sequence[LoadEvent]
) -> FloatArray:
    """Return the resting load at ``times``: the initial load plus all earlier steps."""
    load = np.full(times.shape, initial_g)
    for event in events:
        load[times >= event.t_step] += event.delta_g
    return load


def transients(times: FloatArray, events: Sequence[LoadEvent]) -> FloatArray:
    """Return the hand press, ringing and impact load on top of the resting load."""
    extra = np.zeros(times.shape)
    for event in events:
        # Press: the hand's load rises smoothly until the step.
        start, step, end = np.searchsorted(
            times, (event.t_touch, event.t_step, event.t_settled)
        )
        press_t = times[start:step]
        press_span = max(event.t_step - event.t_touch, 1e-6)
        phase = (press_t - event.t_touch) / press_span
        extra[start:step] += event.press_g * np.sin(0.5 * np.pi * phase) ** 2

        # Ringing after the step decays to 2 % of its start by t_settled.
        ring_t = times[step:end] - event.t_step
        decay = max(event.t_settled - event.t_step, 1e-6) / 4.0
        extra[step:end] += (
            event.ring_fraction
            * event.delta_g
            * np.exp(-ring_t / decay)
            * np.cos(2.0 * np.pi * event.ring_hz * ring_t)
        )
        if event.impact_g:
            extra[step:end] += event.impact_g * np.exp(-ring_t / event.impact_decay_s)
    return extra


def _smoothstep(x: FloatArray) -> FloatArray:
    x = np.clip(x, 0.0, 1.0)
    result: FloatArray = x * x * (3.0 - 2.0 * x)
    return result


def press_load(times: FloatArray, presses: Sequence[PressLoad]) -> FloatArray:
    """Return the load that ``presses`` add at ``times``, without sensor errors."""
    extra = np.zeros(times.shape)
    for press in presses:
        ramp = max(press.ramp_s, 1e-6)
        rise = _smoothstep((times - press.t_start) / ramp)
        fall = 1.0 - _smoothstep((times - (press.t_end - ramp)) / ramp)
        sway = 1.0 + press.sway_fraction * np.sin(
            2.0 * np.pi * press.sway_hz * (times - press.t_start)
        )
        extra += press.grams * rise * fall * sway
    return extra


def drift_burst_offset(times: FloatArray, bursts: Sequence[DriftBurst]) -> FloatArray:
    """Return the offset that ``bursts`` add to a plate's readings at ``times``."""
    offset = np.zeros(times.shape)
    for burst in bursts:
        half = max(0.5 * (burst.t_end - burst.t_start), 1e-6)
        rise = _smoothstep((times - burst.t_start) / half)
        settle = _smoothstep((times - burst.t_start - half) / half)
        offset += burst.peak_g * rise + (burst.end_g - burst.peak_g) * settle
    return offset


def spike_bursts(
    times: FloatArray,
    bursts: Sequence[SpikeBurst],
    model: LoadCellModel,
    rng: np.random.Generator,
) -> FloatArray:
    """Return the spikes that ``bursts`` add at ``times``."""
    extra = np.zeros(times.shape)
    for burst in bursts:
        first, last = np.searchsorted(times, (burst.t_start, burst.t_end))
        if last <= first:
            continue
        count = int(rng.poisson(burst.rate_hz * (burst.t_end - burst.t_start)))
        onsets = rng.integers(first, last, count)
        heights = burst.median_g * np.exp(
            model.spike_log_sigma * rng.normal(size=count)
        )
        heights = np.minimum(heights, model.spike_max_g * 4) * rng.choice(
            (-1.0, 1.0), count
        )
        widths = rng.integers(1, 4, count)
        for onset, height, width in zip(onsets, heights, widths, strict=True):
            extra[onset : min(onset + width, times.size)] += height
    return extra


def spikes(
    count_samples: int,
    duration_s: float,
    model: LoadCellModel,
    rng: np.random.Generator,
) -> FloatArray:
    """Return one plate's spikes: Poisson onsets, log-normal heights, 1-3 readings."""
    extra = np.zeros(count_samples)
    count = int(rng.poisson(model.spike_rate_hz * duration_s))
    if count == 0 or count_samples == 0:
        return extra
    onsets = rng.integers(0, count_samples, count)
    heights = np.minimum(
        model.spike_median_g * np.exp(model.spike_log_sigma * rng.normal(size=count)),
        model.spike_max_g,
    ) * rng.choice((-1.0, 1.0), count)
    probabilities = np.asarray(model.spike_width_probabilities)
    widths = rng.choice(
        np.arange(1, probabilities.size + 1),
        count,
        p=probabilities / probabilities.sum(),
    )
    for offset in range(int(widths.max())):
        active = widths > offset
        index = np.minimum(onsets[active] + offset, count_samples - 1)
        extra[index] += heights[active]
    return extra


def drift(
    times: FloatArray, sensor: PlateSensor, rng: np.random.Generator
) -> FloatArray:
    """Return slow drift: a random walk plus a linear trend, zero at the start."""
    if times.size == 0:
        return np.zeros(0)
    steps = rng.normal(0.0, 1.0, times.size) * sensor.drift_walk_g
    steps *= np.sqrt(np.diff(times, prepend=times[0]))
    trend: FloatArray = sensor.drift_slope_g_per_s * (times - times[0])
    walk: FloatArray = np.cumsum(steps)
    return walk + trend


@dataclass(frozen=True)
class PlateDisturbances:
    """Presses and faults of one plate, and the generator that draws fault spikes.

    A separate generator keeps every other reading unchanged when faults are
    added to a recording.
    """

    presses: Sequence[PressLoad] = ()
    faults: Sequence[PlateFault] = ()
    rng: np.random.Generator | None = None


def render_plate(
    sensor: PlateSensor,
    initial_g: float,
    events: Sequence[LoadEvent],
    span: tuple[float, float],
    model: LoadCellModel,
    rng: np.random.Generator,
    disturbances: PlateDisturbances | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Render one plate's readings over ``span``: returns times and grams."""
    times = sample_times(sensor, span[0], span[1], model, rng)
    load = true_load(times, initial_g, events) + transients(times, events)
    if disturbances is not None:
        load += press_load(times, disturbances.presses)
    reading = sensor.tare_g + sensor.gain * load
    reading += drift(times, sensor, rng)
    reading += rng.normal(0.0, sensor.noise_sd_g, times.size)
    reading += spikes(times.size, span[1] - span[0], model, rng)
    if disturbances is not None:
        times, reading = _apply_faults(times, reading, disturbances, model)
    grams = np.round(reading / model.quantum_g) * model.quantum_g
    return times, grams


def _apply_faults(
    times: FloatArray,
    reading: FloatArray,
    disturbances: PlateDisturbances,
    model: LoadCellModel,
) -> tuple[FloatArray, FloatArray]:
    faults = disturbances.faults
    drifts = [fault for fault in faults if isinstance(fault, DriftBurst)]
    reading = reading + drift_burst_offset(times, drifts)
    bursts = [fault for fault in faults if isinstance(fault, SpikeBurst)]
    if bursts:
        if disturbances.rng is None:
            raise ValueError("spike bursts need a random generator; pass rng")
        reading = reading + spike_bursts(times, bursts, model, disturbances.rng)

    # Gaps come last, so the readings around a gap are unchanged by it.
    kept = np.ones(times.shape, dtype=bool)
    for fault in faults:
        if isinstance(fault, ReadingGap):
            kept &= (times < fault.t_start) | (times >= fault.t_end)
    return times[kept], reading[kept]


def render_weights(
    plate_ids: Sequence[str],
    sensors: dict[str, PlateSensor],
    initial_g: dict[str, float],
    events: Sequence[LoadEvent],
    span: tuple[float, float],
    model: LoadCellModel,
    rng: np.random.Generator,
    *,
    presses: Sequence[PressLoad] = (),
    faults: Sequence[PlateFault] = (),
    fault_rng: np.random.Generator | None = None,
) -> WeightReadings:
    """Render every plate's readings over ``span`` into one ``WeightReadings``.

    ``presses`` add loads that return to zero, ``faults`` add drift bursts,
    spike bursts (drawn from ``fault_rng``) and gaps in the readings.
    """
    by_plate: dict[str, list[LoadEvent]] = {plate: [] for plate in plate_ids}
    for event in events:
        by_plate[event.plate].append(event)
    disturbances: dict[str, PlateDisturbances] = {}
    for plate in {item.plate for item in [*presses, *faults]}:
        if plate not in by_plate:
            raise ValueError(f"press or fault on unknown plate {plate!r}")
        disturbances[plate] = PlateDisturbances(
            presses=[press for press in presses if press.plate == plate],
            faults=[fault for fault in faults if fault.plate == plate],
            rng=fault_rng,
        )

    times: list[FloatArray] = []
    grams: list[FloatArray] = []
    indices: list[npt.NDArray[np.int32]] = []
    for index, plate in enumerate(plate_ids):
        plate_times, plate_grams = render_plate(
            sensors[plate],
            initial_g.get(plate, 0.0),
            by_plate[plate],
            span,
            model,
            rng,
            disturbances.get(plate),
        )
        times.append(plate_times)
        grams.append(plate_grams)
        indices.append(np.full(plate_times.size, index, dtype=np.int32))

    readings = WeightReadings(
        plate_ids=tuple(plate_ids),
        t=np.concatenate(times) if times else np.zeros(0),
        plate=np.concatenate(indices).astype(np.int32)
        if indices
        else np.zeros(0, np.int32),
        g=np.concatenate(grams) if grams else np.zeros(0),
    )
    logger.debug("rendered %d readings on %d plates", len(readings), len(plate_ids))
    return readings
