"""Product identification: which sku and how many units an event moved."""

from __future__ import annotations

import pytest
from fusion_builders import (
    ARROWHEAD,
    CHOCOLATE,
    COLA_A,
    COLA_B,
    DIABLO,
    FIJI,
    FIRE,
    MILD,
    NUTS,
    make_event,
    make_store,
)

from walkout.fusion import (
    AMBIGUOUS_PRODUCT,
    PUT,
    SENSOR_FAULT,
    TAKE,
    FusionParams,
    ShelfContents,
    score_products,
)

# label, plate changes (g), held skus for a put, accepted (sku, qty), review reason
CASES = [
    ("clear single", {"1.5.10": -541.0}, None, {(FIJI, 1)}, None),
    ("two units", {"1.5.10": -1079.0}, None, {(FIJI, 2)}, None),
    (
        "spread decides Fire over Diablo",
        {"2.5.3": -18.0, "2.5.4": -57.0, "2.5.5": -26.0},
        None,
        {(FIRE, 1)},
        None,
    ),
    (
        "real FIJI take with neighbours",
        {"1.5.9": -8.3, "1.5.10": -558.2, "1.5.11": -8.9},
        None,
        {(FIJI, 1)},
        None,
    ),
    (
        "look-alikes",
        {"3.1.1": -355.5},
        None,
        {(COLA_A, 1), (COLA_B, 1)},
        AMBIGUOUS_PRODUCT,
    ),
    ("put back", {"2.5.5": 104.0}, {FIRE: 1, FIJI: 1}, {(FIRE, 1)}, None),
    ("put back on wrong plate", {"2.5.5": 540.0}, {FIJI: 1}, {(FIJI, 1)}, None),
]


@pytest.mark.parametrize(
    ("label", "changes", "held", "accepted", "reason"),
    CASES,
    ids=[case[0] for case in CASES],
)
def test_score_products_table(
    label: str,
    changes: dict[str, float],
    held: dict[str, int] | None,
    accepted: set[tuple[str, int]],
    reason: str | None,
) -> None:
    store = make_store()
    contents = ShelfContents(store)

    score = score_products(make_event(changes), contents, store, held=held)

    assert score.keep
    assert score.best is not None
    assert (score.best.sku, score.best.qty) in accepted
    assert score.review_reason == reason


def test_probabilities_are_normalised() -> None:
    store = make_store()

    score = score_products(
        make_event({"2.5.3": -18.0, "2.5.4": -57.0, "2.5.5": -26.0}),
        ShelfContents(store),
        store,
    )

    assert sum(h.p for h in score.hypotheses) == pytest.approx(1.0)
    assert [h.p for h in score.hypotheses] == sorted(
        (h.p for h in score.hypotheses), reverse=True
    )


def test_spread_case_ranks_diablo_second() -> None:
    store = make_store()

    score = score_products(
        make_event({"2.5.3": -18.0, "2.5.4": -57.0, "2.5.5": -26.0}),
        ShelfContents(store),
        store,
    )

    ranked = [(h.sku, h.qty) for h in score.hypotheses]
    assert ranked[:2] == [(FIRE, 1), (DIABLO, 1)]
    assert (MILD, 1) not in ranked
    assert score.hypotheses[0].p > 0.7


def test_spread_case_total_alone_prefers_diablo() -> None:
    store = make_store()
    contents = ShelfContents(store)

    # The same total on one plate holding both products: weight alone decides.
    contents.add("3.1.3", DIABLO, 3)
    contents.add("3.1.3", FIRE, 3)
    score = score_products(make_event({"3.1.3": -101.0}), contents, store)

    assert score.best is not None
    assert score.best.sku == DIABLO


def test_combination_never_chosen() -> None:
    store = make_store()

    # Plate 3.1.2 carries one 180 g and one 410 g unit, and -590 g is both.
    score = score_products(make_event({"3.1.2": -590.0}), ShelfContents(store), store)

    assert score.keep
    assert score.review_reason == SENSOR_FAULT
    assert {(h.sku, h.qty) for h in score.hypotheses} == {(NUTS, 1), (CHOCOLATE, 1)}


def test_take_needs_units_on_plate() -> None:
    store = make_store()
    contents = ShelfContents(store)
    contents.remove(["3.1.2"], NUTS, 1)

    score = score_products(make_event({"3.1.2": -181.0}), contents, store)

    assert score.best is not None
    assert score.best.sku == CHOCOLATE
    assert score.review_reason == SENSOR_FAULT


def test_small_unexplained_change_dropped() -> None:
    store = make_store()

    score = score_products(make_event({"2.5.5": -12.0}), ShelfContents(store), store)

    assert not score.keep


def test_empty_plate_change_dropped() -> None:
    store = make_store()

    score = score_products(make_event({"3.1.3": -300.0}), ShelfContents(store), store)

    assert not score.keep
    assert score.hypotheses == ()


def test_vision_breaks_look_alike_tie() -> None:
    store = make_store()

    score = score_products(
        make_event({"3.1.1": -355.5}),
        ShelfContents(store),
        store,
        vision={COLA_B: 0.9, COLA_A: 0.08},
    )

    assert score.best is not None
    assert score.best.sku == COLA_B
    assert score.review_reason is None


def test_put_candidates_limited_to_held_count() -> None:
    store = make_store()

    score = score_products(
        make_event({"1.5.10": 1080.0}), ShelfContents(store), store, held={FIJI: 1}
    )

    assert score.action == PUT
    assert {(h.sku, h.qty) for h in score.hypotheses} == {(FIJI, 1)}
    assert score.review_reason == SENSOR_FAULT


def test_calibration_error_parameter_matters() -> None:
    store = make_store()
    event = make_event({"1.5.9": -8.3, "1.5.10": -558.2, "1.5.11": -8.9})
    strict = FusionParams(calibration_rel_sd=0.005, default_unit_sd_rel=0.005)

    loose = score_products(event, ShelfContents(store), store)
    tight = score_products(event, ShelfContents(store, strict), store, strict)

    assert loose.action == TAKE
    assert loose.review_reason is None
    assert tight.review_reason == SENSOR_FAULT
    assert ARROWHEAD not in {h.sku for h in loose.hypotheses[:1]}
