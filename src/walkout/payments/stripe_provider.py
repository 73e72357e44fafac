"""The Stripe provider, which places each hold as a manual-capture PaymentIntent.

A hold is a PaymentIntent created with ``capture_method="manual"`` and
confirmed off-session at entry. The exit capture passes ``amount_to_capture``,
and Stripe releases the rest of the authorisation. Refunds are Refund objects
on the PaymentIntent. Every money-moving request carries the caller's
idempotency key, so Stripe replays the first response to a repeated request.

The provider uses its own ``stripe.StripeClient`` and never touches the SDK's
module-level configuration (``stripe.api_key``, ``stripe.api_base``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from decimal import Decimal

import stripe

from walkout.payments.base import (
    CardDeclinedError,
    Hold,
    PaymentError,
    PaymentMethod,
    PaymentStatus,
    Refund,
)
from walkout.payments.money import (
    THREE_DECIMAL_CURRENCIES,
    from_minor_units,
    normalize_currency,
    require_positive,
    to_minor_units,
)

logger = logging.getLogger(__name__)

API_KEY_ENV = "WALKOUT_STRIPE_API_KEY"
WEBHOOK_SECRET_ENV = "WALKOUT_STRIPE_WEBHOOK_SECRET"

# Hold status of each PaymentIntent status that a hold can be in.
_STATUS_BY_INTENT_STATUS = {
    "requires_capture": PaymentStatus.HELD,
    "succeeded": PaymentStatus.CAPTURED,
    "canceled": PaymentStatus.CANCELLED,
    "requires_payment_method": PaymentStatus.DECLINED,
}


class StripeProvider:
    """A PaymentProvider backed by the Stripe API.

    ``api_base`` replaces every Stripe host the SDK would call (API, files,
    connect, meter events); tests point it at a local fake. Network errors
    and Stripe's 409 and 5xx responses are retried ``max_network_retries``
    times with the same idempotency key, which is safe for money-moving calls.
    """

    name = "stripe"

    def __init__(
        self,
        api_key: str,
        *,
        webhook_secret: str,
        api_base: str | None = None,
        max_network_retries: int = 2,
    ) -> None:
        if not api_key:
            raise PaymentError(
                "configuration_missing",
                f"The Stripe API key is empty; set {API_KEY_ENV}.",
            )
        if not webhook_secret:
            raise PaymentError(
                "configuration_missing",
                f"The Stripe webhook secret is empty; set {WEBHOOK_SECRET_ENV}.",
            )

        if api_base is None:
            self._client = stripe.StripeClient(
                api_key, max_network_retries=max_network_retries
            )
        else:
            base = api_base.rstrip("/")
            self._client = stripe.StripeClient(
                api_key,
                base_addresses={
                    "api": base,
                    "files": base,
                    "connect": base,
                    "meter_events": base,
                },
                max_network_retries=max_network_retries,
            )
        self._webhook_secret = webhook_secret

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StripeProvider:
        """Build a provider from WALKOUT_STRIPE_API_KEY and ..._WEBHOOK_SECRET."""
        missing = [
            name for name in (API_KEY_ENV, WEBHOOK_SECRET_ENV) if not environ.get(name)
        ]
        if missing:
            raise PaymentError(
                "configuration_missing",
                f"Stripe is not configured: set {' and '.join(missing)}.",
            )
        return cls(environ[API_KEY_ENV], webhook_secret=environ[WEBHOOK_SECRET_ENV])

    # Customers and cards.

    def create_customer(self, account_id: str, *, email: str) -> str:
        """Create a new Stripe customer for the account and return its id."""
        try:
            customer = self._client.v1.customers.create(
                {"email": email, "metadata": {"account_id": account_id}}
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "create_customer") from exc
        logger.info(
            "Created Stripe customer %s for account %s", customer.id, account_id
        )
        return customer.id

    def attach_card(self, customer: str, *, token: str) -> PaymentMethod:
        """Attach a card to the customer from a card token or a PaymentMethod id.

        A ``tok_...`` token becomes a new PaymentMethod first; a ``pm_...`` id
        is attached as it is.
        """
        try:
            if token.startswith("pm_"):
                method_id = token
            else:
                created = self._client.v1.payment_methods.create(
                    {"type": "card", "card": {"token": token}}
                )
                method_id = created.id
            method = self._client.v1.payment_methods.attach(
                method_id, {"customer": customer}
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "attach_card") from exc

        card = method.card
        if card is None:
            raise PaymentError(
                "unsupported_payment_method",
                f"Payment method {method.id} is a {method.type}, not a card.",
            )
        logger.info("Attached card %s to Stripe customer %s", method.id, customer)
        return PaymentMethod(
            id=method.id, customer=customer, brand=card.brand, last4=card.last4
        )

    # Money-moving calls.

    def hold(
        self,
        customer: str,
        method: str,
        amount: Decimal,
        currency: str,
        *,
        idempotency_key: str,
    ) -> Hold:
        """Authorise ``amount`` on the card off-session, or raise CardDeclinedError."""
        code = normalize_currency(currency)
        amount_minor = _stripe_minor_units(amount, code)
        try:
            intent = self._client.v1.payment_intents.create(
                {
                    "amount": amount_minor,
                    "currency": code,
                    "customer": customer,
                    "payment_method": method,
                    # A hold in the store cannot follow a redirect.
                    "automatic_payment_methods": {
                        "enabled": True,
                        "allow_redirects": "never",
                    },
                    "capture_method": "manual",
                    "confirm": True,
                    "off_session": True,
                },
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "hold") from exc

        if intent.status != "requires_capture":
            raise PaymentError(
                "unexpected_status",
                f"PaymentIntent {intent.id} is {intent.status} after confirmation,"
                " not requires_capture; the hold was not placed.",
            )
        logger.info("Placed hold %s of %s %s", intent.id, amount_minor, code)
        return _hold_from_intent(intent)

    def capture(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Hold:
        """Capture ``amount`` (at most the hold); Stripe releases the rest."""
        require_positive(
            amount, "Capture amount", hint="to charge nothing, cancel the hold"
        )
        # The currency of the hold sets the minor unit of amount_to_capture.
        intent = self._retrieve_intent(hold_id)
        amount_minor = _stripe_minor_units(amount, intent.currency)
        try:
            captured = self._client.v1.payment_intents.capture(
                hold_id,
                {"amount_to_capture": amount_minor},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "capture", intent_status=intent.status) from exc
        logger.info("Captured %s of hold %s", amount_minor, hold_id)
        return _hold_from_intent(captured)

    def cancel(self, hold_id: str, *, idempotency_key: str) -> Hold:
        """Release an uncaptured hold in full."""
        try:
            intent = self._client.v1.payment_intents.cancel(
                hold_id, None, {"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "cancel") from exc
        logger.info("Cancelled hold %s", hold_id)
        return _hold_from_intent(intent)

    def refund(self, hold_id: str, amount: Decimal, *, idempotency_key: str) -> Refund:
        """Refund part or all of a captured hold."""
        require_positive(amount, "Refund amount")
        intent = self._retrieve_intent(hold_id)
        # A PaymentIntent that succeeded stays succeeded, so checking its state
        # before the request cannot turn the replay of a refund into an error.
        if intent.status == "requires_capture":
            raise PaymentError(
                "hold_not_captured",
                f"Hold {hold_id} is not captured yet; cancel it or capture less"
                " instead of refunding.",
            )
        if intent.status == "canceled":
            raise PaymentError("hold_cancelled", f"Hold {hold_id} is cancelled.")

        amount_minor = _stripe_minor_units(amount, intent.currency)
        try:
            refund = self._client.v1.refunds.create(
                {"payment_intent": hold_id, "amount": amount_minor},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise _translate(exc, "refund", intent_status=intent.status) from exc

        # NOTE: a card refund can still move to "failed" later; that arrives
        # only as a charge.refund.updated webhook, which nothing handles yet.
        logger.info("Refunded %s of hold %s as %s", amount_minor, hold_id, refund.id)
        return Refund(
            id=refund.id,
            hold_id=hold_id,
            amount=from_minor_units(refund.amount, refund.currency),
        )

    # Webhooks.

    def parse_webhook(self, payload: bytes, signature_header: str) -> stripe.Event:
        """Verify the Stripe-Signature header of a webhook and return its event.

        Raises PaymentError("invalid_signature") when the header is missing,
        malformed, signed with another secret, or older than the SDK's
        tolerance (300 s), and PaymentError("invalid_payload") when the
        signed body is not an event.
        """
        try:
            return self._client.construct_event(
                payload, signature_header, self._webhook_secret
            )
        except stripe.SignatureVerificationError as exc:
            logger.warning("Rejected a webhook with an invalid signature")
            raise PaymentError(
                "invalid_signature",
                "The Stripe-Signature header does not verify against the"
                f" webhook secret; check {WEBHOOK_SECRET_ENV}.",
            ) from exc
        except (ValueError, KeyError) as exc:
            raise PaymentError(
                "invalid_payload", "The webhook body is not a Stripe event."
            ) from exc

    def _retrieve_intent(self, hold_id: str) -> stripe.PaymentIntent:
        try:
            return self._client.v1.payment_intents.retrieve(hold_id)
        except stripe.StripeError as exc:
            raise _translate(exc, "retrieve") from exc


def _stripe_minor_units(amount: Decimal, currency: str) -> int:
    minor = to_minor_units(amount, currency)
    if currency in THREE_DECIMAL_CURRENCIES and minor % 10 != 0:
        raise PaymentError(
            "invalid_amount",
            f"Stripe charges {currency.upper()} in multiples of 0.010; {amount}"
            " must end in 0.",
        )
    return minor


def _hold_from_intent(intent: stripe.PaymentIntent) -> Hold:
    status = _STATUS_BY_INTENT_STATUS.get(intent.status)
    if status is None:
        raise PaymentError(
            "unexpected_status",
            f"PaymentIntent {intent.id} has status {intent.status}, which is not"
            " a hold state.",
        )
    # Refunds exist only after a capture, and a captured intent accepts no
    # further capture or cancel, so these responses never include a refund.
    return Hold(
        id=intent.id,
        amount=from_minor_units(intent.amount, intent.currency),
        currency=intent.currency,
        status=status,
        captured=from_minor_units(intent.amount_received, intent.currency),
        refunded=from_minor_units(0, intent.currency),
    )


def _translate(
    exc: stripe.StripeError, operation: str, *, intent_status: str | None = None
) -> PaymentError:
    """Map a Stripe SDK error to a PaymentError with a stable code."""
    message = exc.user_message or str(exc)
    error = exc.error
    logger.warning(
        "Stripe %s failed: %s (code %s, request %s)",
        operation,
        type(exc).__name__,
        exc.code,
        exc.request_id,
    )

    if isinstance(exc, stripe.CardError):
        decline_code = (error.decline_code if error else None) or exc.code
        return CardDeclinedError(message, decline_code=decline_code or "card_declined")
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentError(
            "idempotency_key_reused",
            f"Stripe rejected the idempotency key: {message} Use a new key for a"
            " new request.",
        )
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return PaymentError(
            "authentication_failed",
            f"Stripe rejected the API key; check {API_KEY_ENV}.",
        )
    if isinstance(exc, stripe.RateLimitError):
        return PaymentError(
            "rate_limited", f"Stripe rate-limited the request: {message}"
        )
    if isinstance(exc, stripe.APIConnectionError):
        return PaymentError(
            "provider_unavailable", f"Stripe could not be reached: {message}"
        )
    if isinstance(exc, stripe.InvalidRequestError):
        code = _request_error_code(exc, operation, intent_status)
        if code is not None:
            return PaymentError(code, message)
    return PaymentError("provider_error", f"Stripe {operation} failed: {message}")


def _request_error_code(
    exc: stripe.InvalidRequestError, operation: str, intent_status: str | None
) -> str | None:
    error = exc.error
    if exc.code == "resource_missing":
        param = exc.param or ""
        if param == "customer":
            return "customer_not_found"
        if param == "payment_method":
            return "payment_method_not_found"
        if operation == "attach_card":
            return "invalid_token"
        return "hold_not_found"

    if exc.code == "amount_too_large":
        if operation == "capture":
            return "amount_exceeds_hold"
        if operation == "refund":
            return "refund_exceeds_capture"
    if exc.code == "charge_already_refunded":
        return "refund_exceeds_capture"

    if exc.code == "payment_intent_unexpected_state":
        intent = error.payment_intent if error else None
        status = intent.status if intent is not None else intent_status
        if status == "succeeded":
            return "already_captured"
        if status == "canceled":
            return "hold_cancelled"
        if status == "requires_capture":
            return "hold_not_captured"
    return None
