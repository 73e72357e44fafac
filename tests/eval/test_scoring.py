from __future__ import annotations

from decimal import Decimal

import pytest

from walkout.eval.scoring import score_recording, summarise
from walkout.recording.model import Receipt, ReceiptLine, Truth, TruthReceipt


def _receipt(account: str, **items: int) -> Receipt:
    lines = [ReceiptLine(sku, qty, Decimal("1.00"), 0.9) for sku, qty in items.items()]
    return Receipt(account, [account], lines)


def _truth(*receipts: tuple[str, dict[str, int]]) -> Truth:
    return Truth([TruthReceipt(account, items) for account, items in receipts])


@pytest.mark.parametrize(
    ("truth", "predicted", "tp", "fp", "fn"),
    [
        pytest.param(
            _truth(("a", {"x": 1})), [_receipt("a", x=1)], 1, 0, 0, id="exact"
        ),
        pytest.param(_truth(), [], 0, 0, 0, id="both-empty"),
        pytest.param(
            _truth(("a", {"x": 2})), [_receipt("a", x=1)], 1, 0, 1, id="short"
        ),
        pytest.param(
            _truth(("a", {"x": 1}), ("b", {})),
            [_receipt("a"), _receipt("b", x=1)],
            0,
            1,
            1,
            id="wrong-shopper",
        ),
        pytest.param(
            _truth(("a", {"x": 1})), [_receipt("a", x=1, y=1)], 1, 1, 0, id="extra-sku"
        ),
    ],
)
def test_score_counts(
    truth: Truth, predicted: list[Receipt], tp: int, fp: int, fn: int
) -> None:
    score = score_recording(truth, predicted)
    assert (score.tp, score.fp, score.fn) == (tp, fp, fn)


def test_score_f1_empty_is_one() -> None:
    assert score_recording(_truth(), []).f1 == 1.0


def test_score_f1_wrong_shopper_costs_both() -> None:
    score = score_recording(
        _truth(("a", {"x": 1}), ("b", {"y": 1})),
        [_receipt("a", x=1, y=1), _receipt("b")],
    )
    assert score.f1 == pytest.approx(0.5)


def test_score_diff_names_missing_and_extra() -> None:
    score = score_recording(_truth(("a", {"x": 2})), [_receipt("a", x=1, z=3)])
    [diff] = score.accounts
    assert diff.missing == {"x": 1}
    assert diff.extra == {"z": 3}


def test_score_sums_receipts_of_one_account() -> None:
    score = score_recording(
        _truth(("a", {"x": 2})), [_receipt("a", x=1), _receipt("a", x=1)]
    )
    assert score.f1 == 1.0


def test_summary_pools_exact_receipts() -> None:
    first = score_recording(_truth(("a", {"x": 1}), ("b", {})), [_receipt("a", x=1)])
    second = score_recording(_truth(("c", {"x": 1})), [_receipt("c")])
    summary = summarise([first, second])
    assert summary.exact_receipt_rate == pytest.approx(2 / 3)
    assert summary.mean_f1 == pytest.approx(0.5)


def test_summary_counts_review_visits() -> None:
    flagged = _receipt("a", x=1)
    flagged.items[0].needs_review = True
    score = score_recording(_truth(("a", {"x": 1})), [flagged, _receipt("b")])
    assert summarise([score]).review_rate == pytest.approx(0.5)
