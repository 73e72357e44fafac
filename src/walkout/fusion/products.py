"""Product identification: which product, and how many units, a shelf event moved.

Every hypothesis is one sku times one quantity. A change is never explained
as a mix of different products whose weights add up, because such mixes
fit almost any change and would charge shoppers for items they never took.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from walkout.recording.model import Product, Store
from walkout.sensing.model import ShelfEvent

from .params import DEFAULT_PARAMS, FusionParams
from .shelf import ShelfContents

logger = logging.getLogger(__name__)

TAKE = "take"
PUT = "put"
AMBIGUOUS_PRODUCT = "ambiguous_product"
SENSOR_FAULT = "sensor_fault"


@dataclass(frozen=True)
class ProductHypothesis:
    """One reading of an event: ``qty`` units of ``sku``, with its posterior ``p``."""

    sku: str
    qty: int
    p: float
    weight_z: float
    spread: float


@dataclass(frozen=True)
class ProductScore:
    """Ranked hypotheses for one event and the review decision they imply.

    ``keep`` is false when no hypothesis explains the change and the change
    is too small to be a product; such an event is dropped.
    """

    action: str
    hypotheses: tuple[ProductHypothesis, ...]
    keep: bool
    review_reason: str | None

    @property
    def best(self) -> ProductHypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None


@dataclass(frozen=True)
class _Candidate:
    sku: str
    max_qty: int


def sku_probabilities(hypotheses: Iterable[ProductHypothesis]) -> dict[str, float]:
    """Return each sku's probability, summed over its quantities."""
    result: dict[str, float] = {}
    for hypothesis in hypotheses:
        result[hypothesis.sku] = result.get(hypothesis.sku, 0.0) + hypothesis.p
    return result


def unit_sd(product: Product, params: FusionParams) -> float:
    """Return the standard deviation of one unit's weight in grams."""
    if product.unit_weight_sd_g is not None and product.unit_weight_sd_g > 0:
        return product.unit_weight_sd_g
    return params.default_unit_sd_rel * product.unit_weight_g


def weight_log_likelihood(
    observed_g: float,
    event_sd_g: float,
    product: Product,
    qty: int,
    params: FusionParams,
) -> tuple[float, float]:
    """Score ``qty`` units of ``product`` against an absolute weight change.

    The expected change is ``qty * w`` with variance
    ``qty * sd_unit**2 + event_sd**2 + (calibration_rel_sd * qty * w)**2``.
    Returns the Gaussian log density and the z-score.
    """
    expected = qty * product.unit_weight_g
    variance = (
        qty * unit_sd(product, params) ** 2
        + event_sd_g**2
        + (params.calibration_rel_sd * expected) ** 2
    )
    z = (observed_g - expected) / math.sqrt(variance)
    return -0.5 * z * z - 0.5 * math.log(2.0 * math.pi * variance), z


def spread_share(
    event: ShelfEvent, sku: str, contents: ShelfContents, action: str
) -> float:
    """Return the share of the event's absolute change on plates that hold ``sku``.

    For a take these are the plates where the sku lies now. For a put they
    also include the plates the planogram assigns it.
    """
    total = sum(abs(change.delta_g) for change in event.changes)
    if total <= 0:
        return 1.0
    on_plates = 0.0
    for change in event.changes:
        holds = contents.units(change.plate, sku) > 0
        if action == PUT:
            holds = holds or sku in contents.planned(change.plate)
        if holds:
            on_plates += abs(change.delta_g)
    return on_plates / total


def _take_candidates(
    event: ShelfEvent, contents: ShelfContents, params: FusionParams
) -> tuple[list[_Candidate], bool]:
    skus: set[str] = set()
    for plate in event.plates:
        skus.update(contents.on_plate(plate))
    available = [
        _Candidate(
            sku, min(params.max_units_per_event, contents.units_on(event.plates, sku))
        )
        for sku in sorted(skus)
    ]
    if available:
        return available, True

    # Nothing is left on these plates by our count, so the count is wrong:
    # fall back to what the planogram puts there and mark the event a fault.
    planned: set[str] = set()
    for plate in event.plates:
        planned.update(contents.planned(plate))
    return [
        _Candidate(sku, params.max_units_per_event) for sku in sorted(planned)
    ], False


def _put_candidates(
    event: ShelfEvent,
    contents: ShelfContents,
    params: FusionParams,
    held: Mapping[str, int] | None,
) -> list[_Candidate]:
    if held:
        return [
            _Candidate(sku, min(params.max_units_per_event, count))
            for sku, count in sorted(held.items())
            if count > 0
        ]

    # No cart near has anything: a restock, or an item from outside any
    # known cart. Candidates are what lies on or belongs to these plates.
    skus: set[str] = set()
    for plate in event.plates:
        skus.update(contents.on_plate(plate))
        skus.update(contents.planned(plate))
    return [_Candidate(sku, params.max_units_per_event) for sku in sorted(skus)]


@dataclass(frozen=True)
class _Scored:
    log_score: float
    sku: str
    qty: int
    weight_z: float
    spread: float


def _score_hypotheses(
    event: ShelfEvent,
    contents: ShelfContents,
    store: Store,
    params: FusionParams,
    held: Mapping[str, int] | None,
    vision: Mapping[str, float] | None,
) -> tuple[str, list[_Scored], bool]:
    """Return the action, every (sku, qty) hypothesis with its unnormalised log
    score, and whether a take's candidates were found lying on the plates."""
    action = TAKE if event.delta_g < 0 else PUT
    observed = abs(event.delta_g)
    floor = params.spread_floor if action == TAKE else params.put_spread_floor

    # Candidates: what lies on the plates for a take, what the shoppers hold
    # for a put.
    if action == TAKE:
        candidates, available = _take_candidates(event, contents, params)
    else:
        candidates, available = _put_candidates(event, contents, params, held), True
    candidates = [c for c in candidates if c.sku in store.products and c.max_qty > 0]

    scored: list[_Scored] = []
    for candidate in candidates:
        product = store.products[candidate.sku]
        share = spread_share(event, candidate.sku, contents, action)
        log_spread = math.log(max(share, floor))
        log_vision = 0.0
        if vision:
            log_vision = math.log(
                max(vision.get(candidate.sku, 0.0), params.vision_floor)
            )
        for qty in range(1, candidate.max_qty + 1):
            log_weight, z = weight_log_likelihood(
                observed, event.sd_g, product, qty, params
            )
            log_prior = (qty - 1) * math.log(params.extra_unit_prior)
            score = log_weight + log_spread + log_prior + log_vision
            scored.append(_Scored(score, candidate.sku, qty, z, share))
    return action, scored, available


def take_log_scores(
    event: ShelfEvent,
    contents: ShelfContents,
    store: Store,
    params: FusionParams = DEFAULT_PARAMS,
    *,
    spread: bool = True,
) -> list[tuple[str, int, float, float]]:
    """Return (sku, qty, log score, weight z) for every take hypothesis of
    ``event``.

    The log score is the unnormalised log of ``score_products``'s score
    without vision: the weight density in 1/g plus the log unit prior and,
    when ``spread`` is true, the log spread factor. Only skus lying on the
    changed plates are candidates, so the list is empty when none lies there.
    """
    _, scored, available = _score_hypotheses(event, contents, store, params, None, None)
    if not available:
        return []
    floor = params.spread_floor
    return [
        (
            entry.sku,
            entry.qty,
            entry.log_score - (0.0 if spread else math.log(max(entry.spread, floor))),
            entry.weight_z,
        )
        for entry in scored
    ]


def score_products(
    event: ShelfEvent,
    contents: ShelfContents,
    store: Store,
    params: FusionParams = DEFAULT_PARAMS,
    *,
    held: Mapping[str, int] | None = None,
    vision: Mapping[str, float] | None = None,
) -> ProductScore:
    """Rank (sku, qty) hypotheses for ``event`` with normalised probabilities.

    A hypothesis's score is the product of its weight likelihood, its spread
    factor ``max(share, floor)``, the unit prior ``extra_unit_prior**(qty-1)``
    and its vision factor ``max(p_vision, vision_floor)``. ``held`` maps the
    skus that the shoppers near the plate hold to their counts; it supplies
    the candidates of a put. ``vision`` maps skus to the best recognition
    probability seen in the shopper's hands around the event.
    """
    action, scored, available = _score_hypotheses(
        event, contents, store, params, held, vision
    )
    if not scored:
        logger.warning(
            "store %s: dropped %s of %.1f g on plates %s: no product can explain it",
            contents.store_id,
            action,
            event.delta_g,
            list(event.plates),
        )
        return ProductScore(action, (), keep=False, review_reason=None)

    # Normalise into probabilities and rank.
    top = max(entry.log_score for entry in scored)
    weights = [math.exp(entry.log_score - top) for entry in scored]
    total = sum(weights)
    hypotheses = sorted(
        (
            ProductHypothesis(
                entry.sku, entry.qty, w / total, entry.weight_z, entry.spread
            )
            for w, entry in zip(weights, scored, strict=True)
        ),
        key=lambda h: -h.p,
    )
    return _decide(event, action, tuple(hypotheses), available, store, params, contents)


def _decide(
    event: ShelfEvent,
    action: str,
    hypotheses: tuple[ProductHypothesis, ...],
    available: bool,
    store: Store,
    params: FusionParams,
    contents: ShelfContents,
) -> ProductScore:
    best = hypotheses[0]
    explained = available and abs(best.weight_z) <= params.max_weight_z
    if not explained:
        # A change is product-sized when it reaches a share of the lightest
        # product that lies on, or belongs to, the changed plates.
        skus = {h.sku for h in hypotheses}
        for plate in event.plates:
            skus.update(contents.planned(plate))
        lightest = min(
            store.products[sku].unit_weight_g for sku in skus if sku in store.products
        )
        if abs(event.delta_g) < params.min_product_fraction * lightest:
            # The engine scores several candidates per event and logs the
            # final decision, so the scoring itself logs at debug level.
            logger.debug(
                "store %s: dropped %s of %.1f g on plates %s: smaller than %.0f%% "
                "of the lightest candidate (%.1f g)",
                contents.store_id,
                action,
                event.delta_g,
                list(event.plates),
                100 * params.min_product_fraction,
                lightest,
            )
            return ProductScore(action, hypotheses, keep=False, review_reason=None)
        logger.debug(
            "store %s: %s of %.1f g on plates %s fits no product (best %s x%d, z=%.1f)",
            contents.store_id,
            action,
            event.delta_g,
            list(event.plates),
            best.sku,
            best.qty,
            best.weight_z,
        )
        return ProductScore(action, hypotheses, keep=True, review_reason=SENSOR_FAULT)

    runner_up = hypotheses[1].p if len(hypotheses) > 1 else 0.0
    if best.p - runner_up < params.product_margin:
        return ProductScore(
            action, hypotheses, keep=True, review_reason=AMBIGUOUS_PRODUCT
        )
    return ProductScore(action, hypotheses, keep=True, review_reason=None)
