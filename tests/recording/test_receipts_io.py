"""receipts.json: round trip, exact layout, and one-line errors for bad files."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from walkout.recording import (
    Receipt,
    ReceiptLine,
    RecordingError,
    read_receipts,
    write_receipts,
)

RECEIPTS = [
    Receipt(
        account="acct-42",
        tracks=["p7", "p8"],
        items=[
            ReceiptLine("632565000012", 2, Decimal("1.00"), 0.97),
            ReceiptLine(
                "071063437089",
                1,
                Decimal("2.49"),
                0.55,
                needs_review=True,
                review_reason="ambiguous_product",
            ),
        ],
    ),
    Receipt(account="acct-9", tracks=["p9"], items=[]),
]

DOCUMENT: dict[str, Any] = {
    "format": "walkout-receipts/1",
    "receipts": [
        {
            "account": "acct-42",
            "tracks": ["p7"],
            "items": [
                {
                    "sku": "632565000012",
                    "qty": 1,
                    "unit_price": "1.00",
                    "confidence": 0.97,
                    "needs_review": False,
                    "review_reason": None,
                }
            ],
            "total": "1.00",
            "needs_review": False,
        }
    ],
}


def test_receipts_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "out" / "receipts.json"

    write_receipts(RECEIPTS, path)

    assert read_receipts(path) == RECEIPTS


def test_receipts_layout(tmp_path: Path) -> None:
    path = tmp_path / "receipts.json"

    write_receipts(RECEIPTS, path)
    document = json.loads(path.read_text())

    assert document["format"] == "walkout-receipts/1"
    first, empty = document["receipts"]
    assert first["total"] == "4.49"
    assert first["needs_review"] is True
    assert first["items"][0]["unit_price"] == "1.00"
    assert first["items"][0]["review_reason"] is None
    assert first["items"][1]["review_reason"] == "ambiguous_product"
    assert empty == {
        "account": "acct-9",
        "tracks": ["p9"],
        "items": [],
        "total": "0.00",
        "needs_review": False,
    }


def test_review_flags_optional_when_reading(tmp_path: Path) -> None:
    document = copy.deepcopy(DOCUMENT)
    receipt = document["receipts"][0]
    del receipt["total"], receipt["needs_review"], receipt["tracks"]
    del receipt["items"][0]["needs_review"], receipt["items"][0]["review_reason"]
    path = tmp_path / "receipts.json"
    path.write_text(json.dumps(document))

    [read] = read_receipts(path)

    assert read.tracks == []
    assert read.items[0].needs_review is False
    assert read.items[0].review_reason is None


def test_negative_qty_not_written(tmp_path: Path) -> None:
    receipt = Receipt("a", [], [ReceiptLine("x", -1, Decimal("1.00"), 1.0)])

    with pytest.raises(ValueError, match="qty of x is -1"):
        write_receipts([receipt], tmp_path / "receipts.json")


def _line(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["receipts"][0]["items"][0].update(changes)
    return document


def _receipt(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENT)
    document["receipts"][0].update(changes)
    return document


BAD_CASES: list[tuple[str, str | dict[str, Any], list[str]]] = [
    ("invalid-json", '{\n  "format": "walkout-receipts/1",\n  ]', ["receipts.json:3:"]),
    (
        "wrong-format",
        {**DOCUMENT, "format": "walkout-recording/1"},
        ["format is 'walkout-recording/1'", "'walkout-receipts/1'"],
    ),
    ("receipts-missing", {"format": "walkout-receipts/1"}, ["receipts is missing"]),
    (
        "account-missing",
        {
            "format": "walkout-receipts/1",
            "receipts": [{"items": []}],
        },
        ["receipts[0].account is missing"],
    ),
    (
        "price-float",
        _line(unit_price=1.0),
        ["receipts[0].items[0].unit_price", "1.0 (a number)", "decimal string"],
    ),
    ("qty-negative", _line(qty=-2), ["receipts[0].items[0].qty", "-2"]),
    (
        "confidence-above-one",
        _line(confidence=1.5),
        ["receipts[0].items[0].confidence", "1.5", "[0, 1]"],
    ),
    (
        "needs-review-text",
        _line(needs_review="no"),
        ["receipts[0].items[0].needs_review", '"no" (a string)'],
    ),
    (
        "total-mismatch",
        _receipt(total="2.00"),
        ["receipts[0].total", "'2.00'", "'1.00'"],
    ),
    (
        "receipt-review-mismatch",
        _receipt(needs_review=True),
        ["receipts[0].needs_review", "is true", "no line needs review"],
    ),
]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(content, expected, id=label)
        for label, content, expected in BAD_CASES
    ],
)
def test_read_receipts_rejects(
    tmp_path: Path, content: str | dict[str, Any], expected: list[str]
) -> None:
    path = tmp_path / "receipts.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))

    with pytest.raises(RecordingError) as caught:
        read_receipts(path)

    message = str(caught.value)
    assert "\n" not in message
    assert "receipts.json" in message
    for fragment in expected:
        assert fragment in message


def test_missing_receipts_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError) as caught:
        read_receipts(tmp_path / "receipts.json")

    assert "receipts.json: file not found" in str(caught.value)
