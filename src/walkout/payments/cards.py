"""Test card tokens that the ledger provider and the Stripe test fake accept.

The token names are Stripe's test-mode tokens. A card with a ``decline_code``
attaches to a customer and is declined when a hold is placed on it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatedCard:
    """A simulated card: what a test token stands for and how a hold on it ends."""

    token: str
    brand: str
    last4: str
    decline_code: str | None = None
    decline_message: str = "Your card was declined."


SIMULATED_CARDS: dict[str, SimulatedCard] = {
    card.token: card
    for card in (
        SimulatedCard("tok_visa", "visa", "4242"),
        SimulatedCard("tok_visa_debit", "visa", "5556"),
        SimulatedCard("tok_mastercard", "mastercard", "4444"),
        SimulatedCard("tok_amex", "amex", "8431"),
        SimulatedCard("tok_chargeDeclined", "visa", "0002", "generic_decline"),
        SimulatedCard(
            "tok_chargeDeclinedInsufficientFunds",
            "visa",
            "9995",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        SimulatedCard("tok_chargeDeclinedLostCard", "visa", "9987", "lost_card"),
        SimulatedCard("tok_chargeDeclinedStolenCard", "visa", "9979", "stolen_card"),
        SimulatedCard(
            "tok_chargeDeclinedExpiredCard",
            "visa",
            "0069",
            "expired_card",
            "Your card has expired.",
        ),
        SimulatedCard("tok_chargeCustomerFail", "visa", "0341", "card_declined"),
    )
}


def decline_message(decline_code: str) -> str:
    """Return the shopper-facing message of a simulated decline."""
    for card in SIMULATED_CARDS.values():
        if card.decline_code == decline_code:
            return card.decline_message
    return "Your card was declined."
