"""Hard-case scenarios: each shows its case, and truth follows the receipt policy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sim_checks import HARD_SCENARIOS, account_of_tracks, body_xy, truth_of

from walkout.recording.model import Store, TruthEvent
from walkout.sim import builtin_store, simulate, simulate_rendered
from walkout.sim.builders import LOOKALIKE_MAX_DIFFERENCE
from walkout.sim.loadcell import ReadingGap
from walkout.sim.plan import HandOver
from walkout.sim.render import Rendered
from walkout.sim.timeline import Timeline

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def store() -> Store:
    return builtin_store()


def _render(store: Store, name: str) -> list[Rendered]:
    return [simulate_rendered(store, name, seed) for seed in SEEDS]


def _receipts(rendered: Rendered) -> dict[str, dict[str, int]]:
    truth = rendered.recording.truth
    assert truth is not None
    return {receipt.account: receipt.items for receipt in truth.receipts}


def _takes(rendered: Rendered) -> list[TruthEvent]:
    return [event for event in truth_of(rendered.recording) if event.action == "take"]


def _planogram_sku(store: Store, plate: str) -> str:
    return next(facing.sku for facing in store.planogram if plate in facing.plates)


@pytest.mark.parametrize("name", HARD_SCENARIOS)
def test_same_seed_same_recording(name: str, store: Store) -> None:
    first = simulate(store, name, 5)
    second = simulate(store, name, 5)

    assert np.array_equal(first.weights.t, second.weights.t)
    assert np.array_equal(first.weights.g, second.weights.g)
    assert first.poses is not None and second.poses is not None
    assert np.array_equal(first.poses.xyz, second.poses.xyz)
    assert np.array_equal(first.poses.track, second.poses.track)
    assert first.gates == second.gates
    assert first.truth == second.truth


@pytest.mark.parametrize("name", HARD_SCENARIOS)
def test_recording_short(name: str, store: Store) -> None:
    longest = 180.0 if name == "mixed" else 90.0
    for rendered in _render(store, name):
        start, end = rendered.recording.weights.time_span

        assert end - start <= longest


def test_multi_unit_grabs_several(store: Store) -> None:
    for rendered in _render(store, "multi_unit"):
        accounts = account_of_tracks(rendered)
        receipts = _receipts(rendered)
        grabs = [event for event in _takes(rendered) if event.qty >= 2]

        assert len(grabs) == 2
        assert all(event.qty <= 4 for event in grabs)
        for event in grabs:
            assert receipts[accounts[event.track]][event.sku] >= event.qty


def test_putback_same_returns_to_plate(store: Store) -> None:
    for rendered in _render(store, "putback_same"):
        events = truth_of(rendered.recording)
        puts = [event for event in events if event.action == "put"]
        receipts = _receipts(rendered)

        assert len(puts) == 2
        for put in puts:
            take = next(
                event
                for event in events
                if event.action == "take"
                and event.track == put.track
                and event.sku == put.sku
            )
            assert take.plate == put.plate
            assert take.t < put.t
        assert any(
            put.sku not in receipts[account_of_tracks(rendered)[put.track]]
            for put in puts
        )


def test_misplaced_item_bought_as_itself(store: Store) -> None:
    for rendered in _render(store, "misplaced"):
        events = truth_of(rendered.recording)
        accounts = account_of_tracks(rendered)
        receipts = _receipts(rendered)
        foreign_puts = [
            event
            for event in events
            if event.action == "put" and _planogram_sku(store, event.plate) != event.sku
        ]
        foreign_takes = [
            event
            for event in _takes(rendered)
            if _planogram_sku(store, event.plate) != event.sku
        ]

        assert len(foreign_puts) == 2
        [bought] = foreign_takes
        [put] = [event for event in foreign_puts if event.plate == bought.plate]
        assert put.sku == bought.sku
        assert put.t < bought.t
        assert accounts[put.track] != accounts[bought.track]
        assert receipts[accounts[bought.track]].get(bought.sku) == 1
        assert bought.sku not in receipts[accounts[put.track]]
        # The other misplaced item stays where it was put.
        [stays] = [event for event in foreign_puts if event.plate != bought.plate]
        assert not [event for event in _takes(rendered) if event.plate == stays.plate]


def test_adjacent_takes_close_in_time(store: Store) -> None:
    for rendered in _render(store, "adjacent"):
        accounts = account_of_tracks(rendered)
        takes = _takes(rendered)
        pairs = [
            (a, b)
            for a in takes
            for b in takes
            if accounts[a.track] < accounts[b.track]
            and b.plate in store.neighbours(a.plate)
            and abs(a.t - b.t) <= 2.0
        ]

        assert len(pairs) == 1
        [(first, second)] = pairs
        distance = math.dist(
            body_xy(rendered, first.track, first.t),
            body_xy(rendered, second.track, second.t),
        )
        assert distance >= 0.4


def test_same_plate_takes_seconds_apart(store: Store) -> None:
    for rendered in _render(store, "same_plate"):
        accounts = account_of_tracks(rendered)
        takes = _takes(rendered)
        pairs = [
            (a, b)
            for a in takes
            for b in takes
            if a.plate == b.plate
            and accounts[a.track] != accounts[b.track]
            and a.t < b.t
        ]

        [(first, second)] = pairs
        assert 1.99 <= second.t - first.t <= 4.01
        assert first.sku == second.sku


def test_group3_one_cart_per_group(store: Store) -> None:
    for rendered in _render(store, "group3"):
        accounts = account_of_tracks(rendered)
        tracks_per_account: dict[str, set[str]] = {}
        for track, account in accounts.items():
            tracks_per_account.setdefault(account, set()).add(track)
        takers = {event.track for event in _takes(rendered)}

        assert sorted(len(t) for t in tracks_per_account.values()) == [2, 3]
        assert takers == set(accounts)
        assert set(_receipts(rendered)) == set(tracks_per_account)


def test_staff_restock_stock_only(store: Store) -> None:
    for rendered in _render(store, "staff_restock"):
        accounts = account_of_tracks(rendered)
        events = truth_of(rendered.recording)
        staff_events = [e for e in events if accounts[e.track] in store.staff_accounts]
        restocked_bought = [
            event
            for event, units in zip(events, rendered.moved_units, strict=True)
            if event.action == "take"
            and accounts[event.track] not in store.staff_accounts
            and all(unit.source == "restock" for unit in units)
        ]

        assert not set(_receipts(rendered)) & store.staff_accounts
        assert len([e for e in staff_events if e.action == "put"]) >= 2
        assert any(e.action == "take" for e in staff_events)
        assert restocked_bought
        for event in restocked_bought:
            assert _receipts(rendered)[accounts[event.track]][event.sku] >= 1


def test_lookalike_neighbours_taken(store: Store) -> None:
    for rendered in _render(store, "lookalike"):
        accounts = account_of_tracks(rendered)
        takes = _takes(rendered)
        weight = {sku: p.unit_weight_g for sku, p in store.products.items()}
        pairs = [
            (a, b)
            for a in takes
            for b in takes
            if accounts[a.track] != accounts[b.track]
            and a.sku != b.sku
            and abs(weight[a.sku] - weight[b.sku])
            <= LOOKALIKE_MAX_DIFFERENCE * max(weight[a.sku], weight[b.sku])
            and math.dist(store.plates[a.plate].center, store.plates[b.plate].center)
            <= 0.35
        ]

        assert pairs


def test_lean_returns_to_level(store: Store) -> None:
    for rendered in _render(store, "lean"):
        recording = rendered.recording
        totals: dict[tuple[float, float], float] = {}
        for press in rendered.presses:
            key = (press.t_start, press.t_end)
            totals[key] = totals.get(key, 0.0) + press.grams
        takes = _takes(rendered)

        assert any(2000 <= grams <= 8000 for grams in totals.values())
        assert any(30 <= grams <= 300 for grams in totals.values())
        assert all(event.action in ("take", "put") for event in truth_of(recording))
        lean_start, lean_end = max(totals, key=lambda key: totals[key])
        assert any(lean_start - 1.5 <= e.t <= lean_end + 1.5 for e in takes)
        for press in rendered.presses:
            series = recording.weights.for_plate(press.plate)
            before = series.g[
                (series.t > press.t_start - 0.6) & (series.t < press.t_start)
            ]
            after = series.g[
                (series.t > press.t_end + 0.1) & (series.t < press.t_end + 0.7)
            ]
            during = series.g[
                (series.t > press.t_start + press.ramp_s)
                & (series.t < press.t_end - press.ramp_s)
            ]
            if any(
                event.plate == press.plate
                and press.t_start - 1.0 <= event.t <= press.t_end + 1.0
                for event in truth_of(recording)
            ):
                continue
            assert abs(np.median(after) - np.median(before)) <= 0.02 * press.grams + 10
            assert np.median(during) - np.median(before) >= 0.5 * press.grams


def test_sensor_faults_gap_around_takes(store: Store) -> None:
    for rendered in _render(store, "sensor_faults"):
        gaps = [fault for fault in rendered.faults if isinstance(fault, ReadingGap)]
        takes = [
            reach
            for timeline in rendered.timelines
            for reach in timeline.reaches
            if reach.plate is not None
        ]

        assert len(gaps) == 2
        assert len(rendered.faults) >= 6
        for gap in gaps:
            series = rendered.recording.weights.for_plate(gap.plate)
            inside = (series.t >= gap.t_start) & (series.t < gap.t_end)
            assert not inside.any()
            assert (series.t < gap.t_start).any()
            assert (series.t >= gap.t_end).any()
            assert 3.0 <= gap.t_end - gap.t_start <= 8.0
        during = [
            reach
            for reach in takes
            for gap in gaps
            if reach.plate == gap.plate
            and gap.t_start < reach.t_touch
            and reach.t_settled < gap.t_end
        ]
        just_before = [
            reach
            for reach in takes
            for gap in gaps
            if reach.plate == gap.plate and 0.0 < gap.t_start - reach.t_settled <= 0.6
        ]
        assert during
        assert just_before


def _lost(rendered: Rendered) -> list[Timeline]:
    return [timeline for timeline in rendered.timelines if timeline.labels]


def test_lost_track_resumes_without_enter(store: Store) -> None:
    for rendered in _render(store, "lost_track"):
        recording = rendered.recording
        poses = recording.poses
        assert poses is not None
        entered = {gate.track for gate in recording.gates if gate.action == "enter"}
        receipts = _receipts(rendered)

        assert _lost(rendered)
        for timeline in _lost(rendered):
            [(found_t, new_track)] = timeline.labels
            [(hidden_start, hidden_end)] = timeline.hidden
            own = np.isin(poses.track, timeline.tracks)
            silent = own & (poses.t >= hidden_start) & (poses.t < hidden_end)
            new_takes = [e for e in _takes(rendered) if e.track == new_track]

            assert new_track not in entered
            assert 1.0 <= hidden_end - hidden_start <= 2.0
            assert found_t == hidden_end
            assert not silent.any()
            assert (poses.t[poses.track == new_track] >= found_t).all()
            assert new_takes
            for event in new_takes:
                assert receipts[timeline.plan.account][event.sku] >= 1


def test_no_purchase_empty_receipts(store: Store) -> None:
    for rendered in _render(store, "no_purchase"):
        accounts = account_of_tracks(rendered)
        receipts = _receipts(rendered)
        events = truth_of(rendered.recording)
        empty = [account for account, items in receipts.items() if not items]
        returned = {accounts[e.track] for e in events if e.action == "put"}

        assert len(receipts) == 4
        assert len(empty) == 3
        assert len(returned) == 2
        assert returned <= set(empty)


def test_crowd_shares_the_store(store: Store) -> None:
    for rendered in _render(store, "crowd"):
        timelines = rendered.timelines
        busiest = max(
            sum(
                other.enter_t <= t.exit_t and t.enter_t <= other.exit_t
                for other in timelines
            )
            for t in timelines
        )
        south = {
            e.track for e in _takes(rendered) if store.plates[e.plate].gondola in (1, 2)
        }

        assert 6 <= len(timelines) <= 8
        assert busiest >= 6
        assert len(south) >= 3


def test_handover_picker_pays(store: Store) -> None:
    for rendered in _render(store, "handover"):
        accounts = account_of_tracks(rendered)
        receipts = _receipts(rendered)
        [giver] = [
            t for t in rendered.timelines if any(r.plate is None for r in t.reaches)
        ]
        [hand_over] = [r for r in giver.reaches if r.plate is None]
        assert isinstance(hand_over.action, HandOver)
        sku = hand_over.action.sku
        [taker] = [e for e in _takes(rendered) if e.sku == sku]
        receiver = next(t for t in rendered.timelines if t is not giver)

        assert accounts[taker.track] == giver.plan.account
        assert receipts[giver.plan.account].get(sku, 0) >= 1
        assert sku not in receipts[receiver.plan.account]
        assert (
            math.dist(
                body_xy(rendered, receiver.plan.track, hand_over.t_mid),
                body_xy(rendered, giver.plan.track, hand_over.t_mid),
            )
            <= 1.2
        )


def test_spanning_changes_both_plates(store: Store) -> None:
    for rendered in _render(store, "spanning"):
        events = truth_of(rendered.recording)
        for event in events:
            facing = next(f for f in store.planogram if event.plate in f.plates)
            loads = [
                load
                for load in rendered.load_events
                if abs(load.t_mid - event.t) < 0.002 and load.plate in facing.plates
            ]
            total = sum(abs(load.delta_g) for load in loads)

            assert len(facing.plates) == 2
            assert len(loads) == 2
            assert min(abs(load.delta_g) for load in loads) >= 0.25 * total
        assert any(event.action == "put" for event in events)


def test_mixed_combines_cases(store: Store) -> None:
    for rendered in _render(store, "mixed"):
        recording = rendered.recording
        accounts = set(account_of_tracks(rendered).values())

        assert len(rendered.timelines) >= 10
        assert len(accounts) >= 7
        assert rendered.faults
        assert any(isinstance(fault, ReadingGap) for fault in rendered.faults)
        assert recording.weights.time_span[1] >= 90
