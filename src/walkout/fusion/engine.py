"""The fusion engine: shelf events in, decided takes and puts per account out.

The engine consumes inputs incrementally so that a live service and
``replay`` share it: poses, gate rows and vision observations are added as
they arrive, and each shelf event is decided with what is known up to its
end. Replay is the same engine fed from a recording.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from walkout.recording.model import (
    GateEvent,
    PoseSamples,
    Receipt,
    Recording,
    Store,
    VisionObservations,
)
from walkout.sensing.model import PlateChange, ShelfEvent

from .carts import Cart, build_receipt
from .decisions import AccountScore, DecidedEvent
from .params import DEFAULT_PARAMS, FusionParams
from .products import (
    AMBIGUOUS_PRODUCT,
    PUT,
    SENSOR_FAULT,
    TAKE,
    ProductHypothesis,
    ProductScore,
    score_products,
    sku_probabilities,
)
from .shelf import ShelfContents
from .shoppers import (
    AMBIGUOUS_SHOPPER,
    ANONYMOUS_ACCOUNT,
    AccountBook,
    AccountMode,
    PoseIndex,
    Reach,
    TrackScore,
    associate_tracks,
    is_ambiguous,
)
from .silent import silent_plates, unmeasured_takes
from .solver import solve
from .split import split_by_weight

logger = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    """Receipts of a replay, with every decided event and every dropped one."""

    receipts: list[Receipt]
    events: list[DecidedEvent]
    dropped: list[ShelfEvent] = field(default_factory=list)


class _VisionIndex:
    def __init__(self) -> None:
        self._chunks: list[VisionObservations] = []

    def add(self, vision: VisionObservations) -> None:
        if len(vision):
            self._chunks.append(vision)

    def best_p(self, track: str, start: float, end: float) -> dict[str, float]:
        """Return the best probability per sku seen in ``track``'s hands in a window."""
        result: dict[str, float] = {}
        for chunk in self._chunks:
            rows = np.flatnonzero(
                (chunk.track == track) & (chunk.t >= start) & (chunk.t <= end)
            )
            for row in rows:
                sku = str(chunk.sku[row])
                result[sku] = max(result.get(sku, 0.0), float(chunk.p[row]))
        return result


class FusionEngine:
    """Turns time-ordered shelf events into carts and receipts for one store.

    ``mode`` selects how tracks map to accounts (see ``AccountMode``).
    """

    def __init__(
        self,
        store: Store,
        params: FusionParams = DEFAULT_PARAMS,
        *,
        mode: AccountMode = AccountMode.GATES,
    ) -> None:
        self.store = store
        self.params = params
        self.mode = mode
        self.contents = ShelfContents(store, params)
        self.poses = PoseIndex(params)
        self.accounts = AccountBook(store.info.id, store.staff_accounts, params)
        self.carts: dict[str, Cart] = {}
        self.decided: list[DecidedEvent] = []
        self.dropped: list[ShelfEvent] = []
        self._vision = _VisionIndex()
        self._used_reaches: list[Reach] = []
        self._last_t = -np.inf
        # Account to (sku, probability per sku) of its last doubtful put.
        self._open_doubt: dict[str, tuple[str, dict[str, float]]] = {}
        # Decided put (by object id, until applied) to its sku probabilities.
        self._put_alternatives: dict[int, dict[str, float]] = {}
        # Takes that silent plates could not measure, and qty 0 events that
        # flag the lines of takes measured just before a plate went silent.
        self.unmeasured: list[DecidedEvent] = []

    # --- inputs -----------------------------------------------------------

    def add_poses(self, poses: PoseSamples) -> None:
        self.poses.add(poses)

    def add_gate(self, gate: GateEvent) -> None:
        self.accounts.add_gate(gate)

    def add_vision(self, vision: VisionObservations) -> None:
        self._vision.add(vision)

    # --- decisions --------------------------------------------------------

    def on_event(self, event: ShelfEvent) -> DecidedEvent | None:
        """Decide one shelf event, update shelves and carts, and return the decision.

        An event that turns out to be several shoppers' grabs is decided as
        several parts, and the part with the most units is returned (all
        parts are in ``decided``). Returns None when the event is dropped
        because no product explains it.
        """
        parts = self.decide(event)
        if not parts:
            return None
        return max(parts, key=lambda part: part.qty)

    def decide(self, event: ShelfEvent) -> list[DecidedEvent]:
        """Decide one shelf event and return its parts, one per paying account.

        Returns an empty list when the event is dropped.
        """
        store_id = self.store.info.id
        if event.t_end < self._last_t:
            logger.warning(
                "store %s: event on plate %s at t=%.2f arrived after one at t=%.2f",
                store_id,
                event.main_plate,
                event.t_end,
                self._last_t,
            )
        self._last_t = max(self._last_t, event.t_end)
        self.accounts.apply_until(event.t_end)

        # One item moving changes plates in one direction, and coupling keeps
        # the sign. Plates that rose and plates that fell in one event are a
        # take and a put that overlapped in time, so each is decided alone.
        by_sign = self._split_by_sign(event)
        if by_sign:
            logger.info(
                "store %s: split the event on plates %s at t=%.2f into a take "
                "and a put",
                store_id,
                list(event.plates),
                event.t_mid,
            )
            return [decided for part in by_sign for decided in self.decide(part)]

        # Neighbouring plates that changed together may be several grabs.
        # Per-plate weights show whether each group of plates fits a product
        # of its own, and per-plate wrist evidence shows whether shoppers differ.
        by_weight = split_by_weight(event, self.contents, self.store, self.params)
        if (
            by_weight is not None
            and by_weight.log_odds >= self.params.split_min_log_odds
        ):
            logger.info(
                "store %s: split the take on plates %s at t=%.2f into %d per-plate "
                "grabs (log odds %.1f against one product)",
                store_id,
                list(event.plates),
                event.t_mid,
                len(by_weight.parts),
                by_weight.log_odds,
            )
            parts = sorted(
                by_weight.parts, key=lambda part: (part.t_start, part.main_plate)
            )
            return [decided for part in parts for decided in self._decide_whole(part)]
        if by_weight is not None:
            logger.debug(
                "store %s: kept the take on plates %s at t=%.2f whole (log odds "
                "%.1f for per-plate grabs)",
                store_id,
                list(event.plates),
                event.t_mid,
                by_weight.log_odds,
            )
        split = self._split_by_plate(event)
        if split:
            logger.info(
                "store %s: split the event on plates %s at t=%.2f into %d parts "
                "by shopper",
                store_id,
                list(event.plates),
                event.t_mid,
                len(split),
            )
            return [part for sub in split for part in self._decide_whole(sub)]
        return self._decide_whole(event)

    def _decide_whole(
        self, event: ShelfEvent, *, pieced: bool = False
    ) -> list[DecidedEvent]:
        """Decide one event as one grab.

        ``pieced`` marks an event merged from two partial changes, and its
        lines go to review as ``sensor_fault``.
        """
        # Who: tracks near the plate, mapped to accounts. The raw scores
        # ignore which reaches earlier events used, for the solver.
        track_scores = self._track_scores(event, self._used_reaches)
        accounts, shopper_reason = self._account_scores(event, track_scores)
        raw_accounts = accounts
        if self._used_reaches and track_scores:
            raw_accounts, _ = self._account_scores(event, self._track_scores(event, ()))

        # What: product hypotheses, scored jointly with the putter for a put.
        if event.delta_g > 0:
            accounts, score, shopper_reason = self._score_put(
                event, accounts, shopper_reason
            )
            raw_accounts = accounts
        else:
            score = self._score_products(event, accounts, held=None)
        best = score.best
        if not score.keep or best is None:
            merged = self._merge_partial(event)
            if merged is not None:
                return self._decide_whole(merged, pieced=True)
            logger.warning(
                "store %s: dropped a change of %.1f g on plates %s at t=%.2f: "
                "no product there explains it",
                self.store.info.id,
                event.delta_g,
                list(event.plates),
                event.t_mid,
            )
            self.dropped.append(event)
            return []
        chosen = accounts[0] if accounts else None
        if score.action == PUT and self._is_drift_put(score, chosen):
            # A put that fits no held product while the putter's wrists stayed
            # out of reach is drift or spikes on the plate, not an item.
            # Netting it would cancel a measured take without a trace.
            assert chosen is not None
            assert chosen.distance_m is not None
            logger.warning(
                "store %s: dropped a rise of %.1f g on plates %s at t=%.2f as a "
                "sensor fault, because it fits no held product and the nearest free "
                "wrist (account %s) stayed %.2f m away",
                self.store.info.id,
                event.delta_g,
                list(event.plates),
                event.t_mid,
                chosen.account,
                chosen.distance_m,
            )
            self.dropped.append(event)
            return []

        # A take of units that a doubtful put placed inherits its doubt.
        product_p, product_reason = best.p, score.review_reason
        if pieced:
            product_reason = product_reason or SENSOR_FAULT
        if score.action == TAKE:
            order = sorted(event.changes, key=lambda c: -abs(c.delta_g))
            inherited = self.contents.doubt(
                [c.plate for c in order], best.sku, best.qty
            )
            if inherited is not None:
                product_p *= inherited.get(best.sku, 0.0)
                if product_reason is None and is_ambiguous(
                    list(inherited.values()), self.params.product_margin
                ):
                    product_reason = AMBIGUOUS_PRODUCT

        # Shares: a multi-unit take with a second shopper's fresh reach at
        # its plate is one unit per shopper.
        shares, split_reason = self._unit_shares(
            event, score.action, best, accounts, track_scores
        )
        if len(shares) > 1:
            # The accounts that got a unit no longer compete for the chosen
            # account's units, so only the others can make its line doubtful.
            sharing = {share.account for share, _ in shares if share is not None}
            rivals = [a for a in accounts if a is chosen or a.account not in sharing]
            shopper_reason = self._shopper_reason(rivals)
        parts: list[DecidedEvent] = []
        for share, qty in shares:
            if share is None or share is chosen:
                review_reason = product_reason or split_reason or shopper_reason
                evidence = tuple(raw_accounts)
            else:
                review_reason = (
                    product_reason or split_reason or self._shopper_reason([share])
                )
                evidence = (share,)
            decided = DecidedEvent(
                t=event.t_mid,
                action=score.action,
                sku=best.sku,
                qty=qty,
                plate=event.main_plate,
                plates=event.plates,
                delta_g=event.delta_g * qty / best.qty,
                track=share.track if share else None,
                account=share.account if share else None,
                product_p=product_p,
                shopper_p=share.p if share else 0.0,
                review_reason=review_reason,
                staff=share is not None and share.account in self.store.staff_accounts,
                products=score.hypotheses,
                shoppers=tuple(track_scores),
                accounts=evidence,
                changes=event.changes,
                reach=share.reach if share else None,
                product_reason=product_reason,
            )
            if decided.action == PUT:
                decided = self._with_put_doubt(decided)
            self._apply(event, decided)
            self._log_decision(decided)
            parts.append(decided)
        return parts

    def _merge_partial(self, event: ShelfEvent) -> ShelfEvent | None:
        """Return the event merged with the last dropped change of its plate.

        Drift or spikes during a take can split its step into two changes
        of the same sign, each too small for a product. The two merge when
        the earlier one was dropped, ended at most ``partial_merge_gap_s``
        before this one starts, and together they fit a product within
        ``max_weight_z``. Returns None otherwise.
        """
        if len(event.changes) != 1:
            return None
        change = event.changes[0]
        for index in range(len(self.dropped) - 1, -1, -1):
            earlier = self.dropped[index]
            if earlier.plates != event.plates:
                continue
            first = earlier.changes[0]
            if (first.delta_g > 0) != (change.delta_g > 0):
                return None
            gap = change.t_start - first.t_end
            if not 0.0 <= gap <= self.params.partial_merge_gap_s:
                return None

            merged = ShelfEvent(
                (
                    PlateChange(
                        change.plate,
                        first.t_start,
                        change.t_end,
                        first.delta_g + change.delta_g,
                        math.hypot(first.sd_g, change.sd_g),
                    ),
                )
            )
            merged_score = self._score_products(merged, [], held=None)
            if not merged_score.keep or merged_score.review_reason == SENSOR_FAULT:
                return None

            del self.dropped[index]
            logger.warning(
                "store %s: merged changes of %.1f g and %.1f g on plate %s at "
                "t=%.2f and t=%.2f into one change for review",
                self.store.info.id,
                first.delta_g,
                change.delta_g,
                change.plate,
                earlier.t_mid,
                event.t_mid,
            )
            return merged
        return None

    def _is_drift_put(self, score: ProductScore, chosen: AccountScore | None) -> bool:
        """Return whether a put reads as sensor drift rather than a placed item.

        It must fit no product within ``max_weight_z`` and the chosen putter
        must have wrist evidence that stayed beyond ``max_reach_m``. Without
        wrist evidence (no poses, or a lost track) the put is kept.
        """
        if score.review_reason != SENSOR_FAULT or chosen is None:
            return False
        distance = chosen.distance_m
        return distance is not None and distance > self.params.max_reach_m

    def _log_decision(self, decided: DecidedEvent) -> None:
        level = (
            logging.WARNING if decided.review_reason == SENSOR_FAULT else logging.INFO
        )
        logger.log(
            level,
            "store %s: %s %d x %s on plate %s at t=%.2f by track %s (account %s), "
            "p_product=%.2f p_shopper=%.2f review=%s",
            self.store.info.id,
            decided.action,
            decided.qty,
            decided.sku,
            decided.plate,
            decided.t,
            decided.track,
            decided.account,
            decided.product_p,
            decided.shopper_p,
            decided.review_reason,
        )

    def _score_products(
        self,
        event: ShelfEvent,
        accounts: list[AccountScore],
        held: dict[str, int] | None,
    ) -> ProductScore:
        vision = None
        if accounts and accounts[0].track is not None:
            vision = self._vision.best_p(
                accounts[0].track,
                event.t_start - self.params.vision_window_s,
                event.t_end + self.params.vision_window_s,
            )
        return score_products(
            event, self.contents, self.store, self.params, held=held, vision=vision
        )

    def _score_put(
        self,
        event: ShelfEvent,
        accounts: list[AccountScore],
        reason: str | None,
    ) -> tuple[list[AccountScore], ProductScore, str | None]:
        """Score a put jointly over who put it and what it was.

        Each candidate account proposes what it holds (staff also propose
        restocks of the plates' own products). An account's joint weight is
        its association probability times how well its best product fits the
        change, so a nearby shopper's cart does not decide a staff restock
        and a confident putter is not moved to an account that merely holds
        the sku.
        """
        candidates = accounts[: self.params.solver_candidates]
        if len(candidates) < 1 or self.mode is AccountMode.ANONYMOUS:
            nearby = self._held_near(accounts)
            return accounts, self._score_products(event, accounts, nearby), reason

        scored: list[tuple[float, AccountScore, ProductScore]] = []
        for candidate in candidates:
            held: dict[str, int] | None = self._held_by([candidate.account])
            if candidate.account in self.store.staff_accounts:
                held = held or None
            elif not held:
                held = self._held_near(accounts) or None
            product = self._score_products(event, [candidate, *accounts], held)
            fit = self._fit(product)
            scored.append((candidate.p * fit, candidate, product))
        total = sum(weight for weight, _, _ in scored)
        if total <= 0:
            nearby = self._held_near(accounts)
            return accounts, self._score_products(event, accounts, nearby), reason

        scored.sort(key=lambda entry: -entry[0])
        ranked = [
            replace(candidate, p=weight / total) for weight, candidate, _ in scored
        ]
        product = scored[0][2]
        return ranked, product, self._shopper_reason(ranked)

    def _fit(self, score: ProductScore) -> float:
        """Return how well a product score's best hypothesis fits its change."""
        best = score.best
        if best is None or not score.keep:
            return 0.0
        fit = math.exp(-0.5 * min(best.weight_z**2, 50.0))
        if score.review_reason == SENSOR_FAULT:
            fit *= self.params.infeasible_put_factor
        return fit

    def _unit_shares(
        self,
        event: ShelfEvent,
        action: str,
        best: ProductHypothesis,
        accounts: list[AccountScore],
        track_scores: list[TrackScore],
    ) -> tuple[list[tuple[AccountScore | None, int]], str | None]:
        """Return the (account, units) pairs that make up the event, and a
        review reason.

        The reason is ``ambiguous_shopper`` when the units do not divide one
        per grabbing account, and None otherwise.
        """
        chosen = accounts[0] if accounts else None
        if action != TAKE or best.qty < 2 or chosen is None or chosen.reach is None:
            return [(chosen, best.qty)], None

        # Fresh reaches of other accounts that arrived during the change and
        # stayed at the plate long enough to lift an item.
        extra: list[AccountScore] = []
        seen = {chosen.account}
        for score in track_scores:
            reach = score.reach
            if reach is None or reach.same_as(chosen.reach, self.params.reach_gap_s):
                continue
            if score.distance_m > self.params.unit_split_max_distance_m:
                continue
            if score.p < self.params.unit_split_min_p:
                continue
            if reach.leave_t - reach.arrive_t < self.params.grab_min_dwell_s:
                continue
            if not event.t_start - self.params.onset_lead_s <= reach.arrive_t:
                continue
            if reach.arrive_t > event.t_end:
                continue
            if any(
                reach.same_as(r, self.params.reach_gap_s) for r in self._used_reaches
            ):
                continue
            account = self._account_of(score.track, event.t_end)
            if account is None or account in seen:
                continue
            seen.add(account)
            extra.append(
                AccountScore(account, score.p, score.track, score.distance_m, reach)
            )
        if not extra:
            return [(chosen, best.qty)], None
        # Each grab moved at least one unit, but the merged change does not
        # show how many each moved. With more grabbing accounts than units,
        # which of them took nothing is a guess. With fewer, which of them
        # took the remaining units is a guess, and those go to the chosen one.
        reason = AMBIGUOUS_SHOPPER if len(extra) != best.qty - 1 else None
        extra = extra[: best.qty - 1]
        logger.info(
            "store %s: %d units of %s on plate %s at t=%.2f shared by accounts %s",
            self.store.info.id,
            best.qty,
            best.sku,
            event.main_plate,
            event.t_mid,
            [chosen.account, *(a.account for a in extra)],
        )
        shares: list[tuple[AccountScore | None, int]] = [
            (chosen, best.qty - len(extra))
        ]
        shares.extend((account, 1) for account in extra)
        return shares, reason

    def _split_by_sign(self, event: ShelfEvent) -> list[ShelfEvent]:
        """Split an event whose plates moved in opposite directions.

        Returns the falling and the rising plates as two events in time
        order, or an empty list when either side carries less than
        ``carrying_min_share`` of the absolute change (noise or coupling).
        """
        falling = tuple(c for c in event.changes if c.delta_g < 0)
        rising = tuple(c for c in event.changes if c.delta_g >= 0)
        if not falling or not rising:
            return []
        total = sum(abs(change.delta_g) for change in event.changes)
        minimum = self.params.carrying_min_share * total
        if min(-sum(c.delta_g for c in falling), sum(c.delta_g for c in rising)) < (
            minimum
        ):
            return []
        parts = [ShelfEvent(falling), ShelfEvent(rising)]
        return sorted(parts, key=lambda part: (part.t_start, part.main_plate))

    def _split_by_plate(self, event: ShelfEvent) -> list[ShelfEvent]:
        """Split a multi-plate event whose plates point to different accounts.

        Returns the parts in time order, or an empty list when the event
        stays whole: one plate, one account, weak evidence, or a part that no
        product explains.
        """
        if len(event.changes) < 2 or self.mode is AccountMode.ANONYMOUS:
            return []

        # A plate names its account only with confident evidence of its own.
        # It must carry part of the change, and a wrist must come close enough
        # to grab from it. A plate moved only by coupling, or a hand that
        # stayed out of reach, is no evidence of who lifted the item.
        # NOTE: below split_min_p a merged change of two shoppers' different
        # products stays whole and is read as units of one product.
        total = sum(abs(change.delta_g) for change in event.changes)
        owner: dict[int, str] = {}
        for index, change in enumerate(event.changes):
            if abs(change.delta_g) < self.params.carrying_min_share * total:
                continue
            single = ShelfEvent((change,))
            scores = self._track_scores(single, self._used_reaches)
            accounts, _ = self._account_scores(single, scores)
            if not accounts or accounts[0].p < self.params.split_min_p:
                continue
            distance = accounts[0].distance_m
            if accounts[0].track is None or distance is None:
                continue
            if distance <= self.params.unit_split_max_distance_m:
                owner[index] = accounts[0].account
        if len(set(owner.values())) < 2:
            return []

        # The other plates (small shares, coupling) join the nearest owned
        # plate on the shelf.
        by_account: dict[str, list[int]] = {}
        for index, change in enumerate(event.changes):
            if index not in owner:
                nearest = min(
                    owner,
                    key=lambda i: self._plate_gap(change.plate, event.changes[i].plate),
                )
                owner[index] = owner[nearest]
            by_account.setdefault(owner[index], []).append(index)

        parts = [
            ShelfEvent(tuple(event.changes[i] for i in indices))
            for indices in by_account.values()
        ]
        for part in parts:
            if (part.delta_g > 0) != (event.delta_g > 0):
                return []
            if part.delta_g < 0:
                check = self._score_products(part, [], held=None)
                if not check.keep or check.review_reason == SENSOR_FAULT:
                    return []
        return sorted(parts, key=lambda part: (part.t_start, part.main_plate))

    def _plate_gap(self, first: str, second: str) -> float:
        plates = self.store.plates
        if first not in plates or second not in plates:
            return math.inf
        return float(abs(plates[first].plate - plates[second].plate))

    def _track_scores(
        self, event: ShelfEvent, used: list[Reach] | tuple[()]
    ) -> list[TrackScore]:
        if self.mode is AccountMode.ANONYMOUS or not self.poses:
            return []
        # Hands are scored against the plates that carried the change, not
        # against neighbours that only moved by coupling.
        total = sum(abs(change.delta_g) for change in event.changes)
        plates = [
            self.store.plates[change.plate]
            for change in event.changes
            if change.plate in self.store.plates
            and abs(change.delta_g) >= self.params.carrying_min_share * total
        ]
        return associate_tracks(
            event, plates, self.poses, self.params, used_reaches=used
        )

    def _account_scores(
        self, event: ShelfEvent, track_scores: list[TrackScore]
    ) -> tuple[list[AccountScore], str | None]:
        """Rank accounts for an event and return the shopper review reason, if any."""
        if self.mode is AccountMode.ANONYMOUS:
            return [AccountScore(ANONYMOUS_ACCOUNT, 1.0, None, None)], None

        # Sum track probabilities per account; group members share a cart. A
        # re-linked track shares its probability over the accounts it may
        # continue.
        totals: dict[str, float] = {}
        best_track: dict[str, TrackScore] = {}
        for score in track_scores:
            for account, share in self._link_options(score.track, event.t_end):
                totals[account] = totals.get(account, 0.0) + score.p * share
                if account not in best_track or score.p > best_track[account].p:
                    best_track[account] = score
        if totals:
            norm = sum(totals.values())
            ranked = sorted(totals, key=lambda a: -totals[a])
            accounts = [
                AccountScore(
                    a,
                    totals[a] / norm,
                    best_track[a].track,
                    best_track[a].distance_m,
                    best_track[a].reach,
                )
                for a in ranked
            ]
            return accounts, self._shopper_reason(accounts)

        return self._presence_fallback(event)

    def _account_of(self, track: str, now: float) -> str | None:
        if self.mode is AccountMode.TRACKS:
            return track
        return self.accounts.account_of(track, self.poses, now)

    def _link_options(self, track: str, now: float) -> list[tuple[str, float]]:
        if self.mode is AccountMode.TRACKS:
            return [(track, 1.0)]
        if self.accounts.account_of(track, self.poses, now) is None:
            return []
        return self.accounts.link_options(track)

    def _shopper_reason(self, accounts: list[AccountScore]) -> str | None:
        if is_ambiguous([a.p for a in accounts], self.params.shopper_margin):
            return AMBIGUOUS_SHOPPER
        distance = accounts[0].distance_m
        if distance is not None and distance > self.params.max_reach_m:
            return AMBIGUOUS_SHOPPER
        return None

    def _presence_fallback(
        self, event: ShelfEvent
    ) -> tuple[list[AccountScore], str | None]:
        """Rank the accounts in the store when no wrist was near the event.

        One non-staff account present gets the event outright. Several share
        it evenly, the earliest entrant first as the best guess, and the line
        goes to review. With no shopper present, staff get it.
        """
        if self.mode is AccountMode.TRACKS:
            present = self.poses.tracks_seen(
                event.t_start - self.params.relink_max_gap_s,
                event.t_end + self.params.wrist_window_margin_s,
            )
            staff: list[str] = []
        else:
            inside = self.accounts.present()
            present = [a for a in inside if a not in self.store.staff_accounts]
            staff = [a for a in inside if a in self.store.staff_accounts]
        candidates = present or staff
        if not candidates:
            logger.warning(
                "store %s: no account is inside for the event on plate %s at t=%.2f",
                self.store.info.id,
                event.main_plate,
                event.t_mid,
            )
            return [], AMBIGUOUS_SHOPPER
        share = 1.0 / len(candidates)
        accounts = [AccountScore(a, share, None, None) for a in candidates]
        return accounts, AMBIGUOUS_SHOPPER if len(candidates) > 1 else None

    def _held_near(self, accounts: list[AccountScore]) -> dict[str, int]:
        """Return the units per sku the candidate accounts hold, else anyone present."""
        held = self._held_by(a.account for a in accounts)
        if held:
            return held
        if self.mode is AccountMode.GATES:
            return self._held_by(self.accounts.present())
        return self._held_by(self.carts)

    def _held_by(self, accounts: Iterable[str]) -> dict[str, int]:
        held: dict[str, int] = {}
        for account in accounts:
            cart = self.carts.get(account)
            if cart is None:
                continue
            for sku, qty in cart.held().items():
                held[sku] = max(held.get(sku, 0), qty)
        return held

    def _with_put_doubt(self, decided: DecidedEvent) -> DecidedEvent:
        """Record the product alternatives of a put and return it, flagged
        when it depends on an earlier doubtful put of the same account.

        An account holding two look-alikes that puts one back with
        ``ambiguous_product`` may have put back either. Its next put of the
        other one is then the swap of that choice, however clear its own
        candidates look, so its units carry the swapped probabilities.
        """
        account = decided.account
        if decided.product_reason == AMBIGUOUS_PRODUCT:
            alternatives = sku_probabilities(decided.products)
            if account is not None:
                self._open_doubt[account] = (decided.sku, alternatives)
            self._put_alternatives[id(decided)] = alternatives
            return decided
        if account is None or account not in self._open_doubt:
            return decided
        earlier_sku, earlier = self._open_doubt[account]
        if decided.sku == earlier_sku or decided.sku not in earlier:
            return decided
        swapped = dict(earlier)
        swapped[decided.sku] = earlier[earlier_sku]
        swapped[earlier_sku] = earlier[decided.sku]
        del self._open_doubt[account]
        reason = decided.review_reason
        if is_ambiguous(list(swapped.values()), self.params.product_margin):
            reason = reason or AMBIGUOUS_PRODUCT
        revised = replace(
            decided,
            product_p=decided.product_p * swapped[decided.sku],
            review_reason=reason,
            product_reason=decided.product_reason or reason,
        )
        self._put_alternatives[id(revised)] = swapped
        return revised

    def _apply(self, event: ShelfEvent, decided: DecidedEvent) -> None:
        # Shelves first: a take leaves the plates that changed most first,
        # a put lands on the plate that carried most of the change.
        if decided.action == TAKE:
            order = sorted(event.changes, key=lambda c: -abs(c.delta_g))
            self.contents.remove([c.plate for c in order], decided.sku, decided.qty)
        else:
            alternatives = self._put_alternatives.pop(id(decided), None)
            self.contents.add(
                event.main_plate, decided.sku, decided.qty, alternatives=alternatives
            )
        if decided.reach is not None:
            self._used_reaches.append(decided.reach)
        self.decided.append(decided)
        self._add_to_cart(decided)

    def _add_to_cart(self, decided: DecidedEvent) -> None:
        if decided.account is None:
            return
        cart = self.carts.setdefault(decided.account, Cart(decided.account))
        if decided.qty == 0 and decided.review_reason is not None:
            cart.flag(decided.sku, decided.review_reason)
            return
        signed = decided.qty if decided.action == TAKE else -decided.qty
        cart.add(decided.sku, signed, decided.confidence, decided.review_reason)
        if decided.action == PUT and decided.product_reason == AMBIGUOUS_PRODUCT:
            # The put may have been one of the other held skus, so what stays
            # in the cart is in doubt as well.
            for sku in sku_probabilities(decided.products):
                if sku != decided.sku:
                    cart.flag(sku, AMBIGUOUS_PRODUCT)

    def finalise(self, accounts: Iterable[str] | None = None) -> list[DecidedEvent]:
        """Revisit doubtful decisions with the per-visit solver and rebuild carts.

        ``accounts`` limits the solver to groups of doubtful events that
        involve those accounts, as when one visit exits; by default every
        group is solved. Returns the revised events.
        """
        names = None if accounts is None else set(accounts)
        solved = solve(
            self.decided,
            self.store.staff_accounts,
            self.params,
            accounts=names,
            store_id=self.store.info.id,
        )
        revised = [
            event
            for event, old in zip(solved, self.decided, strict=True)
            if event is not old
        ]
        self.decided = solved
        self.carts = {}
        for event in [*self.decided, *self.unmeasured]:
            self._add_to_cart(event)
        return revised

    def review_silent_plates(
        self, account: str, tracks: Iterable[str], silent: Mapping[str, float]
    ) -> list[DecidedEvent]:
        """Add a ``sensor_fault`` take for each silent plate the account reached.

        ``silent`` maps plates that stopped reporting to their last reading.
        Call it once the account's visit is over. Each (account, plate) pair
        is added once. A take of qty 0 only flags the line of a take that the
        plate measured before it stopped. Returns the added takes.
        """
        if account in self.store.staff_accounts:
            return []
        done = {(event.account, event.plate) for event in self.unmeasured}
        remaining = {p: t for p, t in silent.items() if (account, p) not in done}
        added = unmeasured_takes(
            account,
            tracks,
            remaining,
            self.decided,
            self.poses,
            self.contents,
            self.store,
            self.params,
        )
        for event in added:
            logger.warning(
                "store %s: plate %s stopped reporting at t=%.2f while account %s "
                "reached it, so %s sku %s goes to review as %s",
                self.store.info.id,
                event.plate,
                event.t,
                account,
                "1 more unit of" if event.qty else "the line of",
                event.sku,
                SENSOR_FAULT,
            )
            self.unmeasured.append(event)
            self._add_to_cart(event)
        return added

    def tracks_by_account(self) -> dict[str, list[str]]:
        """Return the tracks of each account, re-linking tracks no event needed."""
        if self.mode is AccountMode.ANONYMOUS:
            return {ANONYMOUS_ACCOUNT: []}
        if self.mode is AccountMode.TRACKS:
            names = sorted(self.poses.tracks, key=self._first_seen_key)
            return {name: [name] for name in names}
        self.accounts.apply_until(np.inf)
        for track in sorted(self.poses.tracks, key=self._first_seen_key):
            self.accounts.account_of(track, self.poses, np.inf)
        tracks = {name: list(ts) for name, ts in self.accounts.account_tracks.items()}
        return {name: tracks.get(name, []) for name in self.accounts.entered_at}

    # --- outputs ----------------------------------------------------------

    def receipts(self) -> list[Receipt]:
        """Build one receipt per non-staff account, empty when it bought nothing."""
        tracks = self.tracks_by_account()
        names = list(tracks)
        if self.mode is AccountMode.GATES:
            # Cart accounts outside ``entered_at`` still list their bound tracks.
            tracks = {
                name: list(ts) for name, ts in self.accounts.account_tracks.items()
            }
        for account in self.carts:
            if account not in names:
                names.append(account)

        return [
            build_receipt(
                account, tracks.get(account, []), self.carts.get(account), self.store
            )
            for account in names
            if account not in self.store.staff_accounts
        ]

    def _first_seen_key(self, track: str) -> tuple[float, str]:
        first = self.poses.first_seen(track)
        return (first[0] if first else np.inf, track)


def replay(
    recording: Recording,
    params: FusionParams = DEFAULT_PARAMS,
    *,
    events: list[ShelfEvent] | None = None,
) -> ReplayResult:
    """Run a recording through detection and the fusion engine and return receipts.

    Detection runs with its default parameters unless ``events`` are given.
    Without gates each track is its own account; without gates and poses
    everything goes to one account named ``anonymous``.
    """
    has_poses = recording.poses is not None and len(recording.poses) > 0
    if recording.gates:
        mode = AccountMode.GATES
    elif has_poses:
        mode = AccountMode.TRACKS
    else:
        mode = AccountMode.ANONYMOUS

    if events is None:
        from walkout.sensing.detector import detect_events

        events = detect_events(recording.weights, recording.store)

    engine = FusionEngine(recording.store, params, mode=mode)
    if recording.poses is not None:
        engine.add_poses(recording.poses)
    for gate in recording.gates:
        engine.add_gate(gate)
    if recording.vision is not None:
        engine.add_vision(recording.vision)

    for event in sorted(events, key=lambda e: (e.t_end, e.t_start)):
        engine.decide(event)
    engine.finalise()
    if mode is not AccountMode.ANONYMOUS:
        # A plate silent at the end of the recording never reported again
        # before any visit was settled.
        # NOTE: live fusion calls a plate silent only after ``stall_s`` (30 s)
        # without readings, and until then the visits that reached it wait.
        from walkout.sensing.detector import DetectorParams

        silent = silent_plates(recording.weights, DetectorParams().max_gap_s)
        if silent:
            for account, tracks in engine.tracks_by_account().items():
                engine.review_silent_plates(account, tracks, silent)
    logger.info(
        "store %s: replay decided %d events and dropped %d (account mode %s)",
        recording.store.info.id,
        len(engine.decided),
        len(engine.dropped),
        mode.value,
    )
    return ReplayResult(engine.receipts(), list(engine.decided), list(engine.dropped))
