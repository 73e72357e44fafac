"""Stripe-only behaviour: webhooks, configuration, requests on the wire."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from fake_stripe import TEST_WEBHOOK_SECRET, FakeStripe, event_payload, sign_webhook

from walkout.payments.base import PaymentError
from walkout.payments.stripe_provider import StripeProvider

INTENT = {"id": "pi_123", "object": "payment_intent", "status": "succeeded"}


def test_webhook_valid_signature_accepted(
    stripe_provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    payload = event_payload("payment_intent.succeeded", INTENT)

    event = stripe_provider.parse_webhook(payload, fake_stripe.sign(payload))
    assert event.type == "payment_intent.succeeded"
    assert event.data.object["id"] == "pi_123"


def test_webhook_other_secret_rejected(stripe_provider: StripeProvider) -> None:
    payload = event_payload("payment_intent.succeeded", INTENT)
    header = sign_webhook(payload, "whsec_other", timestamp=int(time.time()))

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.parse_webhook(payload, header)
    assert excinfo.value.code == "invalid_signature"


def test_webhook_tampered_payload_rejected(
    stripe_provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    payload = event_payload("payment_intent.succeeded", INTENT)
    header = fake_stripe.sign(payload)
    tampered = payload.replace(b"pi_123", b"pi_999")

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.parse_webhook(tampered, header)
    assert excinfo.value.code == "invalid_signature"


def test_webhook_stale_timestamp_rejected(
    stripe_provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    payload = event_payload("payment_intent.succeeded", INTENT)
    header = fake_stripe.sign(payload, timestamp=int(time.time()) - 3600)

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.parse_webhook(payload, header)
    assert excinfo.value.code == "invalid_signature"


@pytest.mark.parametrize("header", ["", "garbage", "t=1,v0=abc"])
def test_webhook_malformed_header_rejected(
    stripe_provider: StripeProvider, header: str
) -> None:
    payload = event_payload("payment_intent.succeeded", INTENT)

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.parse_webhook(payload, header)
    assert excinfo.value.code == "invalid_signature"


def test_webhook_signed_non_json_rejected(
    stripe_provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    payload = b"not json"

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.parse_webhook(payload, fake_stripe.sign(payload))
    assert excinfo.value.code == "invalid_payload"


def test_all_base_addresses_point_at_fake(
    stripe_provider: StripeProvider, fake_stripe_server: tuple[FakeStripe, str]
) -> None:
    _, base_url = fake_stripe_server
    # The SDK keeps its per-client hosts on the requestor's options.
    addresses = stripe_provider._client._requestor._options.base_addresses

    assert set(addresses) == {"api", "files", "connect", "meter_events"}
    assert all(address == base_url for address in addresses.values())


def test_hold_request_on_the_wire(
    stripe_provider: StripeProvider, fake_stripe: FakeStripe
) -> None:
    customer = stripe_provider.create_customer("acct-7", email="ada@example.com")
    method = stripe_provider.attach_card(customer, token="tok_visa")

    hold = stripe_provider.hold(
        customer, method.id, Decimal("12.34"), "EUR", idempotency_key="visit-7"
    )
    intent = fake_stripe.payment_intents[hold.id]
    assert intent["amount"] == 1234
    assert intent["currency"] == "eur"
    assert intent["capture_method"] == "manual"
    assert fake_stripe.customers[customer]["metadata"] == {"account_id": "acct-7"}
    assert [c.amount for c in fake_stripe.charges_of("authorisation")] == [1234]


def test_wrong_api_key_rejected(
    fake_stripe_server: tuple[FakeStripe, str], fake_stripe: FakeStripe
) -> None:
    _, base_url = fake_stripe_server
    provider = StripeProvider(
        "sk_test_wrong",
        webhook_secret=TEST_WEBHOOK_SECRET,
        api_base=base_url,
        max_network_retries=0,
    )

    with pytest.raises(PaymentError) as excinfo:
        provider.create_customer("acct-1", email="ada@example.com")
    assert excinfo.value.code == "authentication_failed"
    assert "sk_test_wrong" not in str(excinfo.value)


def test_from_env_names_missing_variables() -> None:
    with pytest.raises(PaymentError) as excinfo:
        StripeProvider.from_env({"WALKOUT_STRIPE_API_KEY": "sk_test_x"})
    assert excinfo.value.code == "configuration_missing"
    assert "WALKOUT_STRIPE_WEBHOOK_SECRET" in str(excinfo.value)
    assert "WALKOUT_STRIPE_API_KEY" not in str(excinfo.value)


def test_three_decimal_amount_must_end_in_zero(
    stripe_provider: StripeProvider,
) -> None:
    customer = stripe_provider.create_customer("acct-1", email="ada@example.com")
    method = stripe_provider.attach_card(customer, token="tok_visa")

    with pytest.raises(PaymentError) as excinfo:
        stripe_provider.hold(
            customer, method.id, Decimal("1.255"), "kwd", idempotency_key="h"
        )
    assert excinfo.value.code == "invalid_amount"


def test_fake_replays_idempotent_response(fake_stripe: FakeStripe) -> None:
    customer = fake_stripe.handle(
        "POST",
        "/v1/customers",
        {"email": "a@example.com"},
        authorization=f"Bearer {fake_stripe.api_key}",
        idempotency_key=None,
    )[1]["id"]
    method = fake_stripe.handle(
        "POST",
        "/v1/payment_methods",
        {"type": "card", "card[token]": "tok_visa"},
        authorization=f"Bearer {fake_stripe.api_key}",
        idempotency_key=None,
    )[1]["id"]
    fake_stripe.handle(
        "POST",
        f"/v1/payment_methods/{method}/attach",
        {"customer": customer},
        authorization=f"Bearer {fake_stripe.api_key}",
        idempotency_key=None,
    )
    params = {
        "amount": "500",
        "currency": "eur",
        "customer": customer,
        "payment_method": method,
        "capture_method": "manual",
        "confirm": "true",
    }

    def create() -> tuple[int, dict[str, object], bool]:
        return fake_stripe.handle(
            "POST",
            "/v1/payment_intents",
            params,
            authorization=f"Bearer {fake_stripe.api_key}",
            idempotency_key="k1",
        )

    first, second = create(), create()
    assert first[2] is False
    assert second[2] is True
    assert json.dumps(first[1]) == json.dumps(second[1])
    assert len(fake_stripe.charges_of("authorisation")) == 1
