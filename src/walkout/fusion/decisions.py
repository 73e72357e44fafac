"""Decided events: what moved, who moved it, and the evidence behind both."""

from __future__ import annotations

from dataclasses import dataclass

from walkout.sensing.model import PlateChange

from .products import ProductHypothesis
from .shoppers import Reach, TrackScore


@dataclass(frozen=True)
class AccountScore:
    """One account's probability of having caused an event.

    ``track`` is the account's most likely track, ``distance_m`` that
    track's best wrist-to-plate distance and ``reach`` the wrist reach that
    came closest. All three are None when no wrist evidence exists.
    """

    account: str
    p: float
    track: str | None = None
    distance_m: float | None = None
    reach: Reach | None = None


@dataclass(frozen=True)
class DecidedEvent:
    """One shelf event after fusion: what moved, who moved it, and how sure we are.

    ``account`` is None when no account could be found to charge, but the
    shelf contents still change. ``staff`` marks stock work that no receipt
    shows. The evidence for review is kept with the decision: ``products``
    are the ranked product hypotheses, ``shoppers`` the ranked tracks,
    ``accounts`` the ranked accounts before any later revision, and
    ``changes`` the plates with their weight changes. ``revised`` is true
    when the per-visit solver changed the shopper or the review decision.
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
    accounts: tuple[AccountScore, ...] = ()
    changes: tuple[PlateChange, ...] = ()
    reach: Reach | None = None
    product_reason: str | None = None
    """The product part of ``review_reason``, which the solver never clears."""
    revised: bool = False

    @property
    def confidence(self) -> float:
        return self.product_p * self.shopper_p
