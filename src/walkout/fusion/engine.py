"""The fusion engine: shelf events in, decided takes and puts per account out.

The engine consumes inputs incrementally so that a live service and
``replay`` share it: poses, gate rows and vision observations are added as
they arrive, and each shelf event is decided with what is known up to its
end. Replay is the same engine fed from a recording.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from walkout.recording.model import (
    GateEvent,
    PoseSamples,
    Receipt,
    Recording,
    Store,
    VisionObservations,
)
from walkout.sensing.model import ShelfEvent

from .carts import Cart, build_receipt
from .params import DEFAULT_PARAMS, FusionParams
from .products import PUT, TAKE, ProductHypothesis, score_products
from .shelf import ShelfContents
from .shoppers import (
    AMBIGUOUS_SHOPPER,
    ANONYMOUS_ACCOUNT,
    AccountBook,
    AccountMode,
    PoseIndex,
    TrackScore,
    associate_tracks,
    is_ambiguous,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecidedEvent:
    """One shelf event after fusion: what moved, who moved it, and how sure we are.

    ``account`` is None when no account could be found to charge, but the
    shelf contents still change. ``staff`` marks stock work that no receipt shows.
    """

    t: float
    action: str
    sku: str
    qty: int
    plate: str
    plates: tuple[str, ...]
    delta_g: float
    track: str | None
    account: str | None
    product_p: float
    shopper_p: float
    review_reason: str | None
    staff: bool = False
    products: tuple[ProductHypothesis, ...] = ()
    shoppers: tuple[TrackScore, ...] = ()

    @property
    def confidence(self) -> float:
        return self.product_p * self.shopper_p


@dataclass
class ReplayResult:
    """Receipts of a replay, with every decided event and every dropped one."""

    receipts: list[Receipt]
    events: list[DecidedEvent]
    dropped: list[ShelfEvent] = field(default_factory=list)


@dataclass(frozen=True)
class _AccountScore:
    account: str
    p: float
    track: str | None
    distance_m: float | None


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
        self._last_t = -np.inf

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

        Returns None when the event is dropped because no product explains it.
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

        # Who: tracks near the plate, mapped to accounts.
        track_scores = self._track_scores(event)
        accounts, shopper_reason = self._account_scores(event, track_scores)

        # What: product hypotheses, with put candidates from nearby carts
        # and vision from the most likely track.
        held = self._held_near(accounts) if event.delta_g > 0 else None
        vision = None
        if accounts and accounts[0].track is not None:
            vision = self._vision.best_p(
                accounts[0].track,
                event.t_start - self.params.vision_window_s,
                event.t_end + self.params.vision_window_s,
            )
        score = score_products(
            event, self.contents, self.store, self.params, held=held, vision=vision
        )
        best = score.best
        if not score.keep or best is None:
            self.dropped.append(event)
            return None

        # A put-back comes from an account with the item in its cart, when a
        # nearby account has one.
        if score.action == PUT:
            accounts, shopper_reason = self._condition_on_holders(
                accounts, shopper_reason, best.sku
            )
        chosen = accounts[0] if accounts else None
        review_reason = score.review_reason or shopper_reason

        self._apply(event, score.action, best, chosen, review_reason)
        decided = DecidedEvent(
            t=event.t_mid,
            action=score.action,
            sku=best.sku,
            qty=best.qty,
            plate=event.main_plate,
            plates=event.plates,
            delta_g=event.delta_g,
            track=chosen.track if chosen else None,
            account=chosen.account if chosen else None,
            product_p=best.p,
            shopper_p=chosen.p if chosen else 0.0,
            review_reason=review_reason,
            staff=chosen is not None and chosen.account in self.store.staff_accounts,
            products=score.hypotheses,
            shoppers=tuple(track_scores),
        )
        self.decided.append(decided)
        logger.info(
            "store %s: %s %d x %s on plate %s at t=%.2f by track %s (account %s), "
            "p_product=%.2f p_shopper=%.2f review=%s",
            store_id,
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
        return decided

    def _track_scores(self, event: ShelfEvent) -> list[TrackScore]:
        if self.mode is AccountMode.ANONYMOUS or not self.poses:
            return []
        plates = [self.store.plates[p] for p in event.plates if p in self.store.plates]
        return associate_tracks(event, plates, self.poses, self.params)

    def _account_scores(
        self, event: ShelfEvent, track_scores: list[TrackScore]
    ) -> tuple[list[_AccountScore], str | None]:
        """Rank accounts for an event and return the shopper review reason, if any."""
        if self.mode is AccountMode.ANONYMOUS:
            return [_AccountScore(ANONYMOUS_ACCOUNT, 1.0, None, None)], None

        # Sum track probabilities per account; group members share a cart.
        totals: dict[str, float] = {}
        best_track: dict[str, TrackScore] = {}
        for score in track_scores:
            account = self._account_of(score.track, event.t_end)
            if account is None:
                continue
            totals[account] = totals.get(account, 0.0) + score.p
            if account not in best_track or score.p > best_track[account].p:
                best_track[account] = score
        if totals:
            norm = sum(totals.values())
            ranked = sorted(totals, key=lambda a: -totals[a])
            accounts = [
                _AccountScore(
                    a, totals[a] / norm, best_track[a].track, best_track[a].distance_m
                )
                for a in ranked
            ]
            return accounts, self._shopper_reason(accounts)

        return self._presence_fallback(event)

    def _account_of(self, track: str, now: float) -> str | None:
        if self.mode is AccountMode.TRACKS:
            return track
        return self.accounts.account_of(track, self.poses, now)

    def _shopper_reason(self, accounts: list[_AccountScore]) -> str | None:
        if is_ambiguous([a.p for a in accounts], self.params.shopper_margin):
            return AMBIGUOUS_SHOPPER
        distance = accounts[0].distance_m
        if distance is not None and distance > self.params.max_reach_m:
            return AMBIGUOUS_SHOPPER
        return None

    def _presence_fallback(
        self, event: ShelfEvent
    ) -> tuple[list[_AccountScore], str | None]:
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
        accounts = [_AccountScore(a, share, None, None) for a in candidates]
        return accounts, AMBIGUOUS_SHOPPER if len(candidates) > 1 else None

    def _held_near(self, accounts: list[_AccountScore]) -> dict[str, int]:
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

    def _condition_on_holders(
        self, accounts: list[_AccountScore], reason: str | None, sku: str
    ) -> tuple[list[_AccountScore], str | None]:
        holders = [
            a
            for a in accounts
            if a.account in self.carts and sku in self.carts[a.account].held()
        ]
        if not holders or len(holders) == len(accounts):
            return accounts, reason
        norm = sum(a.p for a in holders)
        if norm <= 0:
            return accounts, reason
        conditioned = [
            _AccountScore(a.account, a.p / norm, a.track, a.distance_m) for a in holders
        ]
        return conditioned, self._shopper_reason(conditioned)

    def _apply(
        self,
        event: ShelfEvent,
        action: str,
        best: ProductHypothesis,
        chosen: _AccountScore | None,
        review_reason: str | None,
    ) -> None:
        # Shelves first: a take leaves the plates that changed most first,
        # a put lands on the plate that carried most of the change.
        if action == TAKE:
            order = sorted(event.changes, key=lambda c: -abs(c.delta_g))
            self.contents.remove([c.plate for c in order], best.sku, best.qty)
        else:
            self.contents.add(event.main_plate, best.sku, best.qty)

        if chosen is None:
            return
        cart = self.carts.setdefault(chosen.account, Cart(chosen.account))
        signed = best.qty if action == TAKE else -best.qty
        cart.add(best.sku, signed, best.p * chosen.p, review_reason)

    # --- outputs ----------------------------------------------------------

    def receipts(self) -> list[Receipt]:
        """Build one receipt per non-staff account, empty when it bought nothing."""
        if self.mode is AccountMode.ANONYMOUS:
            names = [ANONYMOUS_ACCOUNT]
            tracks: dict[str, list[str]] = {ANONYMOUS_ACCOUNT: []}
        elif self.mode is AccountMode.TRACKS:
            names = sorted(self.poses.tracks, key=self._first_seen_key)
            tracks = {name: [name] for name in names}
        else:
            self.accounts.apply_until(np.inf)
            # Re-link tracks that no event needed, so that receipts list them.
            for track in sorted(self.poses.tracks, key=self._first_seen_key):
                self.accounts.account_of(track, self.poses, np.inf)
            names = list(self.accounts.entered_at)
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
        engine.on_event(event)
    logger.info(
        "store %s: replay decided %d events and dropped %d (account mode %s)",
        recording.store.info.id,
        len(engine.decided),
        len(engine.dropped),
        mode.value,
    )
    return ReplayResult(engine.receipts(), list(engine.decided), list(engine.dropped))
