"""Exact conversion between Decimal amounts and minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from walkout.payments.base import PaymentError
from walkout.payments.money import currency_exponent, from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("0.01", "eur", 1),
        ("17.35", "EUR", 1735),
        ("17.3", "usd", 1730),
        ("1500", "jpy", 1500),
        ("1.250", "kwd", 1250),
        ("99999999.99", "eur", 9999999999),
        ("1E+2", "eur", 10000),
    ],
)
def test_to_minor_units_exact(amount: str, currency: str, minor: int) -> None:
    assert to_minor_units(Decimal(amount), currency) == minor


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (1, "eur", "0.01"),
        (1735, "eur", "17.35"),
        (1500, "jpy", "1500"),
        (1250, "kwd", "1.250"),
    ],
)
def test_from_minor_units_places(minor: int, currency: str, text: str) -> None:
    assert str(from_minor_units(minor, currency)) == text


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("0.001", "eur"),
        ("0.5", "jpy"),
        ("0", "eur"),
        ("-1", "eur"),
        ("Infinity", "eur"),
    ],
)
def test_to_minor_units_rejects(amount: str, currency: str) -> None:
    with pytest.raises(PaymentError) as excinfo:
        to_minor_units(Decimal(amount), currency)
    assert excinfo.value.code == "invalid_amount"


@pytest.mark.parametrize("currency", ["eu", "euro", "e1r", ""])
def test_invalid_currency_rejected(currency: str) -> None:
    with pytest.raises(PaymentError) as excinfo:
        currency_exponent(currency)
    assert excinfo.value.code == "invalid_currency"


def test_float_amount_rejected() -> None:
    with pytest.raises(PaymentError) as excinfo:
        to_minor_units(0.1, "eur")  # type: ignore[arg-type]
    assert excinfo.value.code == "invalid_amount"
