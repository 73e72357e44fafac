"""Carts: each account's net quantities, and the receipts built from them."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from walkout.recording.model import Receipt, ReceiptLine, Store

from .products import SENSOR_FAULT

logger = logging.getLogger(__name__)


@dataclass
class CartLine:
    """Net units of one sku in a cart and the weakest evidence behind them.

    ``confidence`` is the minimum over contributing events of product p
    times shopper p; ``review_reason`` is the first reason among them.
    """

    qty: int = 0
    confidence: float = 1.0
    review_reason: str | None = None


@dataclass
class Cart:
    """An account's net units per sku: takes minus put-backs."""

    account: str
    lines: dict[str, CartLine] = field(default_factory=dict)

    def held(self) -> dict[str, int]:
        """Return the units per sku in the cart now, zero counts left out."""
        return {sku: line.qty for sku, line in self.lines.items() if line.qty > 0}

    def add(
        self, sku: str, qty: int, confidence: float, review_reason: str | None
    ) -> int:
        """Add ``qty`` units (negative for a put-back) and return the units applied.

        A put-back reduces the line by at most the units in the cart. A
        shopper who returns someone else's item therefore earns no credit
        against a later take, and the item stays on the taker's receipt. A
        ``sensor_fault`` put never empties a line. Its last unit stays on the
        receipt, flagged for review.
        """
        line = self.lines.setdefault(sku, CartLine())
        applied = max(qty, -line.qty)
        if review_reason == SENSOR_FAULT and applied < 0 and line.qty + applied == 0:
            # A put whose weight fits no product may not have been this sku
            # at all. A line of zero units cannot carry a review, so the
            # last unit stays on the receipt, flagged, for a reviewer to drop.
            applied += 1
            line.review_reason = line.review_reason or SENSOR_FAULT
            logger.info(
                "account %s: kept 1 unit of sku %s for review because the put "
                "that would empty its line fits no product",
                self.account,
                sku,
            )
        if applied != qty:
            logger.info(
                "account %s put back %d unit(s) of sku %s but its cart has %d",
                self.account,
                -qty,
                sku,
                line.qty,
            )
        if applied == 0:
            return 0
        line.qty += applied
        line.confidence = min(line.confidence, confidence)
        if line.review_reason is None:
            line.review_reason = review_reason
        return applied

    def flag(self, sku: str, review_reason: str) -> None:
        """Send the line of ``sku`` to review, if the cart contains any of it."""
        line = self.lines.get(sku)
        if line is not None and line.qty > 0 and line.review_reason is None:
            line.review_reason = review_reason


def build_receipt(
    account: str, tracks: list[str], cart: Cart | None, store: Store
) -> Receipt:
    """Turn a cart into a priced receipt, leaving out lines with qty <= 0."""
    items: list[ReceiptLine] = []
    if cart is not None:
        for sku, line in cart.lines.items():
            if line.qty <= 0:
                continue
            items.append(
                ReceiptLine(
                    sku=sku,
                    qty=line.qty,
                    unit_price=store.products[sku].price,
                    confidence=line.confidence,
                    needs_review=line.review_reason is not None,
                    review_reason=line.review_reason,
                )
            )
    return Receipt(account=account, tracks=list(tracks), items=items)
