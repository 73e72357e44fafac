"""Per-visit solver: revisits doubtful shopper decisions once a visit's evidence is in.

Online, each event goes to its most likely account as it arrives. An event
whose shopper is doubtful keeps its ranked account candidates. Later
evidence can settle it: a put-back is only possible for an account that
holds the item, and one reach of a hand moves one load. The solver groups
doubtful events that share candidate accounts, scores every joint
assignment of a group's doubtful events to their top candidates, and
replaces each event's shopper probability by its marginal over the joint
posterior. The score of an assignment is the product of

- each doubtful event's association probability for its account,
- ``infeasible_put_factor`` per unit that an account puts back without
  holding it at that moment (staff are exempt, because a restock is a put
  of new stock), and
- ``reused_reach_factor`` per extra event caused by one reach.

Decided events of the group's accounts that were never doubtful enter the
score with their fixed account, so a later confident put-back constrains an
earlier doubtful take.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace

from .decisions import AccountScore, DecidedEvent
from .params import DEFAULT_PARAMS, FusionParams
from .products import PUT
from .shoppers import AMBIGUOUS_SHOPPER, Reach, is_ambiguous

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Choice:
    account: str
    log_p: float
    candidate: AccountScore


def is_doubtful(event: DecidedEvent) -> bool:
    """Return whether the shopper of ``event`` is in doubt and has alternatives."""
    return (
        event.review_reason == AMBIGUOUS_SHOPPER
        and event.product_reason is None
        and len(event.accounts) >= 2
    )


def solve(
    events: Sequence[DecidedEvent],
    staff: Collection[str],
    params: FusionParams = DEFAULT_PARAMS,
    *,
    accounts: Collection[str] | None = None,
    store_id: str = "",
) -> list[DecidedEvent]:
    """Return ``events`` with doubtful shopper decisions revised jointly.

    Only groups that involve one of ``accounts`` are solved when it is
    given, so a live service can finalise one visit as it exits. Events keep
    their order, and events outside solved groups come back unchanged.
    """
    doubtful = [index for index, event in enumerate(events) if is_doubtful(event)]
    result = list(events)
    for group in _groups(events, doubtful, params):
        members = {c.account for i in group for c in _top(events[i], params)}
        if accounts is not None and not members & set(accounts):
            continue
        if len(group) > params.solver_max_events:
            logger.warning(
                "store %s: %d doubtful events share accounts %s, more than the "
                "limit of %d, so they keep their online decisions",
                store_id,
                len(group),
                sorted(members),
                params.solver_max_events,
            )
            continue
        for index, event in _solve_group(events, group, members, staff, params):
            if event != result[index]:
                logger.info(
                    "store %s: revised %s of %s on plate %s at t=%.2f: account %s "
                    "-> %s (p=%.2f, review=%s)",
                    store_id,
                    event.action,
                    event.sku,
                    event.plate,
                    event.t,
                    result[index].account,
                    event.account,
                    event.shopper_p,
                    event.review_reason,
                )
            result[index] = event
    return result


def _top(event: DecidedEvent, params: FusionParams) -> list[AccountScore]:
    return [c for c in event.accounts[: params.solver_candidates] if c.p > 0]


def _groups(
    events: Sequence[DecidedEvent], doubtful: list[int], params: FusionParams
) -> list[list[int]]:
    """Partition doubtful events into groups linked by shared candidate accounts."""
    groups: list[tuple[set[str], list[int]]] = []
    for index in doubtful:
        names = {c.account for c in _top(events[index], params)}
        linked = [g for g in groups if g[0] & names]
        merged_names = set(names)
        merged_events = [index]
        for group in linked:
            merged_names |= group[0]
            merged_events.extend(group[1])
            groups.remove(group)
        groups.append((merged_names, sorted(merged_events)))
    return [members for _, members in groups]


def _solve_group(
    events: Sequence[DecidedEvent],
    group: list[int],
    members: set[str],
    staff: Collection[str],
    params: FusionParams,
) -> list[tuple[int, DecidedEvent]]:
    fixed = [
        index
        for index, event in enumerate(events)
        if index not in group and event.account in members
    ]
    options = [
        [_Choice(c.account, math.log(c.p), c) for c in _top(events[index], params)]
        for index in group
    ]

    # Score every joint assignment of the group's doubtful events.
    assignments: list[tuple[float, tuple[_Choice, ...]]] = []
    for combo in itertools.product(*options):
        chosen = dict(zip(group, combo, strict=True))
        log_score = sum(choice.log_p for choice in combo)
        log_score += _constraint_log(events, chosen, fixed, staff, params)
        assignments.append((log_score, combo))
    top = max(score for score, _ in assignments)
    weights = [math.exp(score - top) for score, _ in assignments]
    total = sum(weights)
    best = max(range(len(assignments)), key=lambda i: weights[i])

    # Marginal probability of each account per doubtful event.
    revised: list[tuple[int, DecidedEvent]] = []
    for position, index in enumerate(group):
        marginal: dict[str, float] = {}
        for weight, (_, combo) in zip(weights, assignments, strict=True):
            name = combo[position].account
            marginal[name] = marginal.get(name, 0.0) + weight / total
        choice = assignments[best][1][position]
        revised.append((index, _revise(events[index], choice, marginal, staff, params)))
    return revised


def _constraint_log(
    events: Sequence[DecidedEvent],
    chosen: dict[int, _Choice],
    fixed: list[int],
    staff: Collection[str],
    params: FusionParams,
) -> float:
    """Log factor of put feasibility and reach reuse for one joint assignment."""
    log_score = 0.0
    held: dict[str, dict[str, int]] = {}
    reaches: list[Reach] = []
    for index in sorted([*chosen, *fixed], key=lambda i: events[i].t):
        event = events[index]
        if index in chosen:
            account: str | None = chosen[index].account
            reach = chosen[index].candidate.reach
        else:
            account, reach = event.account, event.reach
        if account is None:
            continue

        # A reach moves one load, so each extra event on it costs a factor.
        if reach is not None:
            if any(reach.same_as(r, params.reach_gap_s) for r in reaches):
                log_score += math.log(params.reused_reach_factor)
            reaches.append(reach)

        # A put-back needs the item in the account's cart.
        cart = held.setdefault(account, {})
        have = cart.get(event.sku, 0)
        if event.action == PUT:
            missing = max(event.qty - have, 0)
            if missing and account not in staff:
                log_score += missing * math.log(params.infeasible_put_factor)
            cart[event.sku] = max(have - event.qty, 0)
        else:
            cart[event.sku] = have + event.qty
    return log_score


def _revise(
    event: DecidedEvent,
    choice: _Choice,
    marginal: dict[str, float],
    staff: Collection[str],
    params: FusionParams,
) -> DecidedEvent:
    candidate = choice.candidate
    reason: str | None = None
    if is_ambiguous(list(marginal.values()), params.shopper_margin):
        reason = AMBIGUOUS_SHOPPER
    if candidate.distance_m is not None and candidate.distance_m > params.max_reach_m:
        reason = AMBIGUOUS_SHOPPER
    revised = replace(
        event,
        account=candidate.account,
        track=candidate.track,
        reach=candidate.reach,
        shopper_p=marginal.get(candidate.account, 0.0),
        review_reason=reason,
        staff=candidate.account in staff,
    )
    if revised.account != event.account or revised.review_reason != event.review_reason:
        return replace(revised, revised=True)
    return event
