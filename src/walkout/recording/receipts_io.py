"""Read and write receipts.json (format ``walkout-receipts/1``).

Money is written as decimal strings. The receipt-level ``total`` and
``needs_review`` are written from the ``Receipt`` properties; when reading,
they are optional but must agree with the lines if present.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from walkout.recording._files import write_json
from walkout.recording._json import DECIMAL_PATTERN, JsonObject, load_json
from walkout.recording._store import check_format
from walkout.recording.model import RECEIPTS_FORMAT, Receipt, ReceiptLine

logger = logging.getLogger(__name__)


def read_receipts(path: Path) -> list[Receipt]:
    """Read and validate receipts.json."""
    root = JsonObject(path, "", load_json(path))
    check_format(root, RECEIPTS_FORMAT)
    receipts = [_parse_receipt(entry) for entry in root.objects("receipts")]
    logger.debug("read %d receipts from %s", len(receipts), path)
    return receipts


def _parse_receipt(entry: JsonObject) -> Receipt:
    receipt = Receipt(
        account=entry.text("account"),
        tracks=entry.texts("tracks", optional=True),
        items=[_parse_line(line) for line in entry.objects("items")],
    )

    if entry.has("total"):
        total = entry.decimal("total")
        if total != receipt.total:
            raise entry.error(
                "total",
                f"is {format(total, 'f')!r} but the items add up to "
                f"{format(receipt.total, 'f')!r}",
                "make total the sum of qty * unit_price over the items",
            )
    needs_review = entry.flag("needs_review", default=receipt.needs_review)
    if needs_review != receipt.needs_review:
        raise entry.error(
            "needs_review",
            f"is {str(needs_review).lower()} but "
            f"{'a line needs' if receipt.needs_review else 'no line needs'} review",
            "set it to true exactly when a line's needs_review is true",
        )
    return receipt


def _parse_line(entry: JsonObject) -> ReceiptLine:
    confidence = entry.number("confidence", minimum=0.0)
    if confidence > 1:
        raise entry.error(
            "confidence", f"is {confidence!r}", "expected a number in [0, 1]"
        )
    return ReceiptLine(
        sku=entry.text("sku"),
        qty=entry.integer("qty", minimum=0),
        unit_price=entry.decimal("unit_price"),
        confidence=confidence,
        needs_review=entry.flag("needs_review", default=False),
        review_reason=entry.optional_text("review_reason"),
    )


def write_receipts(receipts: Sequence[Receipt], path: Path) -> None:
    """Write ``receipts`` to the file ``path`` atomically, creating its directory."""
    write_json(receipts_document(receipts), path)
    logger.info("wrote %d receipts to %s", len(receipts), path)


def receipts_document(receipts: Sequence[Receipt]) -> dict[str, Any]:
    """Return receipts.json's content."""
    return {
        "format": RECEIPTS_FORMAT,
        "receipts": [_receipt_document(receipt) for receipt in receipts],
    }


def _money(amount: object, label: str) -> str:
    text = format(amount, "f")
    if not DECIMAL_PATTERN.fullmatch(text):
        raise ValueError(f"{label} is {text}, expected a non-negative decimal amount")
    return text


def _receipt_document(receipt: Receipt) -> dict[str, Any]:
    for line in receipt.items:
        if line.qty < 0:
            raise ValueError(
                f"receipt of {receipt.account}: qty of {line.sku} is {line.qty}; "
                "expected 0 or more"
            )
    items = [
        {
            "sku": line.sku,
            "qty": int(line.qty),
            "unit_price": _money(line.unit_price, f"unit_price of {line.sku}"),
            "confidence": float(line.confidence),
            "needs_review": bool(line.needs_review),
            "review_reason": line.review_reason,
        }
        for line in receipt.items
    ]
    return {
        "account": receipt.account,
        "tracks": list(receipt.tracks),
        "items": items,
        "total": _money(receipt.total, f"total of {receipt.account}"),
        "needs_review": receipt.needs_review,
    }
