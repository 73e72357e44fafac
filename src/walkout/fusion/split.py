"""Per-plate explanations of multi-plate take events.

The detector groups changes on neighbouring plates that overlap in time
into one shelf event. Such an event is either one product whose weight
left several plates, or several grabs, each from its own plate. This
module compares the two explanations on the per-plate changes.

- **Whole**: ``q`` units of one sku. The total change fits ``q * w``.
  Groups of plates that hold the sku share the change in any proportion,
  so the split among ``m`` such groups has the uniform density
  ``(m - 1)! / |D_carry|**(m - 1)``. A group that does not hold the sku
  changes only by neighbour coupling: ``coupling_rel`` of the total, with
  spread ``coupling_rel_sd``.
- **Split**: the plates form contiguous groups along the shelf, and each
  group's own change is one product lying on that group's plates and on
  no other plate of the event. Each group is scored like an event of its
  own.

Both are densities over the same per-group changes, so their ratio is a
Bayes factor. A single plate's change is never shared between products:
groups are made of whole plates.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from walkout.recording.model import Store
from walkout.sensing.model import PlateChange, ShelfEvent

from .params import FusionParams
from .products import take_log_scores
from .shelf import ShelfContents


@dataclass(frozen=True)
class WeightSplit:
    """The best per-plate grouping of an event and its log Bayes factor.

    ``log_odds`` is log L(split) - log L(whole) for ``parts``, which are in
    shelf order.
    """

    parts: tuple[ShelfEvent, ...]
    log_odds: float


def _logsumexp(values: list[float]) -> float:
    if not values:
        return -math.inf
    top = max(values)
    if top == -math.inf:
        return top
    return top + math.log(sum(math.exp(v - top) for v in values))


def _log_normal(x: float, mean: float, variance: float) -> float:
    return -0.5 * (x - mean) ** 2 / variance - 0.5 * math.log(2 * math.pi * variance)


def _shelf_order(event: ShelfEvent, store: Store) -> list[PlateChange] | None:
    """Return the event's changes in order along one shelf, or None."""
    plates = store.plates
    if any(change.plate not in plates for change in event.changes):
        return None
    shelves = {(plates[c.plate].gondola, plates[c.plate].shelf) for c in event.changes}
    if len(shelves) != 1:
        return None
    return sorted(event.changes, key=lambda c: plates[c.plate].plate)


def _groupings(count: int) -> list[list[tuple[int, int]]]:
    """Return every split of ``count`` ordered items into at least two contiguous
    runs, each as (start, end) index pairs."""
    result = []
    for cuts in itertools.product((False, True), repeat=count - 1):
        if not any(cuts):
            continue
        runs = []
        start = 0
        for index, cut in enumerate(cuts, start=1):
            if cut:
                runs.append((start, index))
                start = index
        runs.append((start, count))
        result.append(runs)
    return result


def _whole_log_likelihood(
    event: ShelfEvent,
    parts: list[ShelfEvent],
    contents: ShelfContents,
    store: Store,
    params: FusionParams,
) -> float:
    """Return the log density of the parts' changes under the whole explanation."""
    total = event.delta_g
    terms = []
    for sku, _, log_score, _ in take_log_scores(
        event, contents, store, params, spread=False
    ):
        carrying = [
            part
            for part in parts
            if any(contents.units(plate, sku) > 0 for plate in part.plates)
        ]
        if not carrying:
            continue
        log_split = 0.0
        for part in parts:
            if part in carrying:
                continue
            variance = (params.coupling_rel_sd * total) ** 2 + sum(
                change.sd_g**2 for change in part.changes
            )
            log_split += _log_normal(
                part.delta_g, params.coupling_rel * total, variance
            )
        if len(carrying) > 1:
            carried = max(abs(sum(part.delta_g for part in carrying)), 1.0)
            log_split += math.lgamma(len(carrying)) - (len(carrying) - 1) * math.log(
                carried
            )
        terms.append(log_score + log_split)
    return _logsumexp(terms)


def split_by_weight(
    event: ShelfEvent,
    contents: ShelfContents,
    store: Store,
    params: FusionParams,
) -> WeightSplit | None:
    """Find the grouping of a multi-plate take that best explains it as
    separate grabs, with its log Bayes factor against one product.

    Returns None when the event is not a take on two or more plates of one
    shelf, has more than ``split_max_plates`` plates, or no grouping has
    every group explained by a product lying on its own plates.
    """
    if len(event.changes) < 2 or event.delta_g >= 0:
        return None
    if len(event.changes) > params.split_max_plates:
        return None
    ordered = _shelf_order(event, store)
    if ordered is None:
        return None

    # Each contiguous run of plates is scored once as an event of its own.
    evidence: dict[tuple[int, int], float | None] = {}

    def run_evidence(start: int, end: int) -> float | None:
        key = (start, end)
        if key not in evidence:
            part = ShelfEvent(tuple(ordered[start:end]))
            evidence[key] = None
            # A part's product lies on its own plates only: units of a facing
            # that continues into another part rest across both parts.
            others = {c.plate for c in ordered[:start] + ordered[end:]}
            scores = []
            if part.delta_g < 0:
                scores = [
                    entry
                    for entry in take_log_scores(part, contents, store, params)
                    if not any(contents.units(plate, entry[0]) > 0 for plate in others)
                ]
            if scores:
                best_z = max(scores, key=lambda entry: entry[2])[3]
                if abs(best_z) <= params.max_weight_z:
                    evidence[key] = _logsumexp([entry[2] for entry in scores])
        return evidence[key]

    best: WeightSplit | None = None
    for runs in _groupings(len(ordered)):
        log_split = 0.0
        for start, end in runs:
            part_evidence = run_evidence(start, end)
            if part_evidence is None:
                break
            log_split += part_evidence
        else:
            parts = [ShelfEvent(tuple(ordered[start:end])) for start, end in runs]
            log_whole = _whole_log_likelihood(event, parts, contents, store, params)
            log_odds = log_split - log_whole
            if best is None or log_odds > best.log_odds:
                best = WeightSplit(tuple(parts), log_odds)
    return best
