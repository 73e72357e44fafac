"""Build the payment provider that the settings select."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from walkout.payments.base import PaymentProvider
from walkout.payments.ledger import LedgerProvider
from walkout.payments.stripe_provider import StripeProvider
from walkout.service.settings import Settings


def build_provider(
    settings: Settings, session_factory: sessionmaker[Session]
) -> PaymentProvider:
    """Return the provider named by ``settings.payment_provider``.

    The ledger keeps its accounts in the service database through
    ``session_factory``; Stripe needs the keys that the settings validated.
    """
    if settings.payment_provider == "ledger":
        return LedgerProvider(session_factory)
    if settings.stripe_secret_key is None or settings.stripe_webhook_secret is None:
        raise ValueError("the Stripe provider needs its secret key and webhook secret")
    return StripeProvider(
        settings.stripe_secret_key.get_secret_value(),
        webhook_secret=settings.stripe_webhook_secret.get_secret_value(),
        api_base=settings.stripe_api_base or None,
    )
