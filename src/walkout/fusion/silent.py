"""Review lines for takes that a plate that stopped reporting could not measure.

A take becomes an event only once the plate's level after it is measured.
A plate that stops reporting while a shopper's wrist is at it, and does not
report again before the shopper's visit is settled, never measures that
level, so no event exists. The visit then goes to review with a
``sensor_fault`` line that names the plate's most stocked product as the
best guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from walkout.recording.model import Plate, Store, WeightReadings

from .decisions import AccountScore, DecidedEvent
from .params import FusionParams
from .products import SENSOR_FAULT, TAKE, ProductHypothesis
from .shelf import ShelfContents
from .shoppers import PoseIndex, plate_distances

# Maximum time before a plate's last reading over which a wrist's stay at
# the plate is traced back to its arrival (seconds). A longer stay is dated
# from this limit.
_LOOKBACK_S = 30.0


def silent_plates(weights: WeightReadings, max_gap_s: float) -> dict[str, float]:
    """Return the last reading time of each plate that stopped reporting.

    A plate stopped reporting when its last reading is more than
    ``max_gap_s`` older than the last reading of any plate.
    """
    if not len(weights):
        return {}
    end = float(weights.t.max())
    silent: dict[str, float] = {}
    for series in weights.series():
        if not series.t.size:
            continue
        last = float(series.t[-1])
        if last < end - max_gap_s:
            silent[series.plate] = last
    return silent


def unmeasured_takes(
    account: str,
    tracks: Iterable[str],
    silent: Mapping[str, float],
    decided: Iterable[DecidedEvent],
    poses: PoseIndex,
    contents: ShelfContents,
    store: Store,
    params: FusionParams,
) -> list[DecidedEvent]:
    """Return one ``sensor_fault`` take per silent plate the account's wrists reached.

    ``silent`` maps plates to their last reading. A wrist counts when it
    was within ``max_reach_m`` of the plate at that reading or later
    (``silent_wrist_lead_s`` earlier at most). The take is one unit of the
    product with the most units on the plate, or else of a planogram product
    of the plate, with product probability 0.

    A take in ``decided`` by the account on that plate or a neighbour, from
    a reach that lasted until the wrist's arrival, shows that this hand's
    grab was measured. The returned take then has qty 0 and only flags the
    line of the measured take's sku.
    """
    tracks = [track for track in tracks if track in poses.tracks]
    decided = list(decided)
    found: list[DecidedEvent] = []
    for plate_id, last_t in sorted(silent.items()):
        plate = store.plates.get(plate_id)
        if plate is None:
            continue
        start = last_t - params.silent_wrist_lead_s
        arrival = _arrival_t(poses, tracks, plate, start, params)
        if arrival is None:
            continue
        nearby = {plate_id, *store.neighbours(plate_id)}
        measured = [
            event
            for event in decided
            if event.account == account
            and nearby.intersection(event.plates)
            and event.action == TAKE
            and event.reach is not None
            and event.reach.leave_t >= arrival
        ]
        if measured:
            sku, qty = measured[-1].sku, 0
            candidates: tuple[ProductHypothesis, ...] = (
                ProductHypothesis(sku, 1, 1.0, 0.0, 1.0),
            )
        else:
            candidates = _candidates(contents, plate_id)
            if not candidates:
                continue
            sku, qty = candidates[0].sku, 1
        found.append(
            DecidedEvent(
                t=last_t,
                action=TAKE,
                sku=sku,
                qty=qty,
                plate=plate_id,
                plates=(plate_id,),
                delta_g=0.0,
                track=None,
                account=account,
                product_p=0.0,
                shopper_p=1.0,
                review_reason=SENSOR_FAULT,
                products=candidates,
                accounts=(AccountScore(account, 1.0),),
                product_reason=SENSOR_FAULT,
            )
        )
    return found


def _arrival_t(
    poses: PoseIndex,
    tracks: list[str],
    plate: Plate,
    start: float,
    params: FusionParams,
) -> float | None:
    """Return when a wrist within reach of ``plate`` at or after ``start`` arrived.

    The arrival is the first sample of the unbroken run of in-reach samples
    that lasts until ``start`` (or begins after it), so an arm that is
    withdrawing when the plate stops dates from its reach to the plate.
    Returns None when no wrist was within reach.
    """
    arrival: float | None = None
    for track in tracks:
        times, xyz, names = poses.wrist_samples(
            track, start - _LOOKBACK_S, float("inf")
        )
        if not len(times):
            continue
        within = plate_distances(xyz, plate) <= params.max_reach_m
        for wrist in set(names.tolist()):
            rows = np.flatnonzero((names == wrist) & within)
            late = rows[times[rows] >= start]
            if not late.size:
                continue
            # Walk back over the run of in-reach samples of this wrist.
            own = np.flatnonzero(names == wrist)
            position = int(np.searchsorted(own, late[0]))
            while position > 0 and within[own[position - 1]]:
                position -= 1
            first = float(times[own[position]])
            arrival = first if arrival is None else min(arrival, first)
    return arrival


def _candidates(
    contents: ShelfContents, plate_id: str
) -> tuple[ProductHypothesis, ...]:
    """Return the plate's products ranked by units on it, with unit shares as p."""
    units = contents.on_plate(plate_id)
    if not units:
        units = {sku: 1 for sku in sorted(contents.planned(plate_id))}
    total = sum(units.values())
    ranked = sorted(units.items(), key=lambda item: (-item[1], item[0]))
    return tuple(
        ProductHypothesis(sku, 1, count / total, 0.0, 1.0) for sku, count in ranked
    )
