"""Receipt accuracy as the recording format scores it.

True and predicted receipts are multisets of (account, sku) pairs. Per
recording, TP counts matching units, FP predicted units beyond the truth and
FN true units that were not predicted; F1 = 2TP / (2TP + FP + FN), and 1.0
when both sides are empty. Review flags do not change the score. The
exact-receipt rate pools accounts over recordings: every account in the
truth, plus any other account predicted to buy something.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from walkout.recording.model import Receipt, Truth


@dataclass(frozen=True)
class AccountDiff:
    """What one account's predicted receipt got wrong, by SKU and quantity."""

    account: str
    missing: dict[str, int]
    extra: dict[str, int]

    @property
    def exact(self) -> bool:
        return not self.missing and not self.extra


@dataclass(frozen=True)
class RecordingScore:
    tp: int
    fp: int
    fn: int
    accounts: list[AccountDiff] = field(default_factory=list)
    review_visits: int = 0
    visits: int = 0

    @property
    def f1(self) -> float:
        denominator = 2 * self.tp + self.fp + self.fn
        return 1.0 if denominator == 0 else 2 * self.tp / denominator

    @property
    def exact_accounts(self) -> int:
        return sum(1 for diff in self.accounts if diff.exact)


@dataclass(frozen=True)
class AccuracySummary:
    """Scores of a set of recordings: mean F1 and pooled rates."""

    recordings: int
    mean_f1: float
    exact_receipt_rate: float
    review_rate: float


def _true_items(truth: Truth) -> dict[str, Counter[str]]:
    items: dict[str, Counter[str]] = {}
    for receipt in truth.receipts:
        counter = items.setdefault(receipt.account, Counter())
        for sku, qty in receipt.items.items():
            counter[sku] += qty
    return items


def _predicted_items(receipts: Iterable[Receipt]) -> dict[str, Counter[str]]:
    items: dict[str, Counter[str]] = {}
    for receipt in receipts:
        counter = items.setdefault(receipt.account, Counter())
        for line in receipt.items:
            counter[line.sku] += line.qty
    return items


def score_recording(truth: Truth, receipts: Sequence[Receipt]) -> RecordingScore:
    """Score one recording's predicted receipts against its truth."""
    expected = _true_items(truth)
    predicted = _predicted_items(receipts)

    scored_accounts = list(expected)
    scored_accounts += [
        account
        for account, counter in predicted.items()
        if account not in expected and sum(counter.values()) > 0
    ]

    tp = fp = fn = 0
    diffs: list[AccountDiff] = []
    for account in scored_accounts:
        want = expected.get(account, Counter())
        got = predicted.get(account, Counter())
        missing = {sku: qty for sku, qty in (want - got).items() if qty > 0}
        extra = {sku: qty for sku, qty in (got - want).items() if qty > 0}
        tp += sum((want & got).values())
        fp += sum(extra.values())
        fn += sum(missing.values())
        diffs.append(AccountDiff(account, missing, extra))

    return RecordingScore(
        tp=tp,
        fp=fp,
        fn=fn,
        accounts=diffs,
        review_visits=sum(1 for receipt in receipts if receipt.needs_review),
        visits=len(receipts),
    )


def summarise(scores: Sequence[RecordingScore]) -> AccuracySummary:
    """Combine per-recording scores: mean F1, pooled exact and review rates."""
    if not scores:
        return AccuracySummary(0, 1.0, 1.0, 0.0)
    accounts = sum(len(score.accounts) for score in scores)
    exact = sum(score.exact_accounts for score in scores)
    visits = sum(score.visits for score in scores)
    reviewed = sum(score.review_visits for score in scores)
    return AccuracySummary(
        recordings=len(scores),
        mean_f1=sum(score.f1 for score in scores) / len(scores),
        exact_receipt_rate=exact / accounts if accounts else 1.0,
        review_rate=reviewed / visits if visits else 0.0,
    )
