"""Hard cases end to end: scripted shoppers rendered by the simulator, replayed."""

from __future__ import annotations

import pytest
from scripted_plans import BUILDERS, misplaced_lookalike, sku_on

from walkout.fusion import replay
from walkout.recording.model import Receipt, Recording
from walkout.sim import builtin_store, render, simulate
from walkout.sim.render import SimulationSettings


def bought(receipts: list[Receipt]) -> dict[str, dict[str, int]]:
    return {
        r.account: {line.sku: line.qty for line in r.items} for r in receipts if r.items
    }


def truth_bought(recording: Recording) -> dict[str, dict[str, int]]:
    assert recording.truth is not None
    return {r.account: r.items for r in recording.truth.receipts if r.items}


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("name", list(BUILDERS))
def test_scripted_case_exact_receipts(name: str, seed: int) -> None:
    store = builtin_store()
    plans, separate = BUILDERS[name](store)
    recording = render(store, plans, seed, separate=separate).recording

    result = replay(recording)

    assert bought(result.receipts) == truth_bought(recording)
    assert not any(r.needs_review for r in result.receipts)


@pytest.mark.parametrize(
    "name",
    [
        "staff_restock",
        "sensor_faults",
        "lost_track",
        "handover",
        "spanning",
        "adjacent",
        "lean",
    ],
)
def test_simulated_case_exact_receipts(name: str) -> None:
    recording = simulate(builtin_store(), name, 1)

    result = replay(recording)

    assert bought(result.receipts) == truth_bought(recording)
    assert not any(r.needs_review for r in result.receipts)


def test_staff_never_get_receipts() -> None:
    store = builtin_store()
    recording = simulate(store, "staff_restock", 2)

    result = replay(recording)

    accounts = {r.account for r in result.receipts}
    assert not accounts & store.staff_accounts
    assert any(e.staff for e in result.events)


def test_adjacent_takes_split_per_plate() -> None:
    store = builtin_store()
    plans, separate = BUILDERS["adjacent"](store)
    recording = render(store, plans, 1, separate=separate).recording

    result = replay(recording)

    takes = sorted((e.plate, e.sku, e.account, e.qty) for e in result.events)
    assert takes == [
        ("2.3.3", sku_on(store, "2.3.3"), "acct-1", 1),
        ("2.3.4", sku_on(store, "2.3.4"), "acct-2", 1),
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_misplaced_lookalike_take_flagged(seed: int) -> None:
    store = builtin_store()
    plans, separate = misplaced_lookalike(store)
    # Weight alone cannot tell the look-alikes apart, and vision often can.
    weight_only = SimulationSettings(vision_outputs=None)
    recording = render(store, plans, seed, weight_only, separate=separate).recording

    result = replay(recording)

    [receipt] = [r for r in result.receipts if r.account == "acct-2"]
    [line] = receipt.items
    assert line.sku in (sku_on(store, "3.1.5"), sku_on(store, "3.1.6"))
    assert line.needs_review
    assert line.review_reason == "ambiguous_product"
    assert bought(result.receipts).get("acct-1", {}) == {}
