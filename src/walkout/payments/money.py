"""Exact conversion between Decimal amounts and integer minor units.

Stripe and the ledger store amounts as integers in the currency's minor unit
(cents for EUR, yen for JPY, fils for KWD). The exponent per currency follows
Stripe's list of zero-decimal and three-decimal currencies; every other ISO
4217 code is taken to have two decimals.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from walkout.payments.base import PaymentError

# Currencies Stripe charges in whole units.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "bif",
        "clp",
        "djf",
        "gnf",
        "jpy",
        "kmf",
        "krw",
        "mga",
        "pyg",
        "rwf",
        "ugx",
        "vnd",
        "vuv",
        "xaf",
        "xof",
        "xpf",
    }
)
# Currencies Stripe charges in thousandths.
THREE_DECIMAL_CURRENCIES = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def normalize_currency(currency: str) -> str:
    """Return the lowercase three-letter code, as Stripe writes currencies."""
    code = currency.strip().lower()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise PaymentError(
            "invalid_currency",
            f"Currency {currency!r} is not a three-letter ISO 4217 code.",
        )
    return code


def currency_exponent(currency: str) -> int:
    """Return the number of decimal places of the currency's minor unit."""
    code = normalize_currency(currency)
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def require_positive(amount: Decimal, label: str, *, hint: str = "") -> None:
    """Raise PaymentError("invalid_amount") unless amount is a finite Decimal > 0."""
    if isinstance(amount, Decimal) and amount.is_finite() and amount > 0:
        return
    suffix = f"; {hint}" if hint else ""
    raise PaymentError(
        "invalid_amount",
        f"{label} {amount!r} must be a Decimal greater than zero{suffix}.",
    )


def to_minor_units(amount: Decimal, currency: str) -> int:
    """Convert a positive Decimal amount to integer minor units without rounding.

    Raises PaymentError("invalid_amount") for a value that is not a finite
    Decimal, is zero or negative, or has more decimal places than the currency.
    """
    require_positive(amount, "Amount")
    exponent = currency_exponent(currency)
    scaled = amount.scaleb(exponent)
    try:
        minor = scaled.to_integral_exact()
    except InvalidOperation as exc:
        raise PaymentError(
            "invalid_amount", f"Amount {amount} is too large to convert."
        ) from exc
    if minor != scaled:
        raise PaymentError(
            "invalid_amount",
            f"Amount {amount} has more than {exponent} decimal places, the"
            f" precision of {currency.upper()}; round it before charging.",
        )
    return int(minor)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """Convert integer minor units to a Decimal with the currency's decimal places."""
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))
