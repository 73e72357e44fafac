"""An in-memory fake of the few Stripe API endpoints that StripeProvider calls.

It reads form-encoded bodies as the official SDK sends them and responds with
Stripe's JSON object and error shapes: 402 ``card_error`` with a
``decline_code``, 400 ``invalid_request_error``, 404 ``resource_missing``,
400 ``idempotency_error`` and 401 ``authentication_error``. A repeated request
with the same Idempotency-Key and the same parameters gets the stored first
response; with other parameters it gets an ``idempotency_error``. Only 2xx and
402 responses are stored under a key.

Cards come from walkout.payments.cards, as in the ledger provider. Every
authorisation, capture and refund is appended to ``FakeStripe.charges``, which
tests read to check that money moved once.

``serve`` runs the app with uvicorn on 127.0.0.1 in a background thread.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from walkout.payments.cards import SIMULATED_CARDS

JsonDict = dict[str, Any]

TEST_API_KEY = "sk_test_fake_walkout"
TEST_WEBHOOK_SECRET = "whsec_fake_walkout"


class StripeApiError(Exception):
    """An error response in Stripe's shape: HTTP status and the ``error`` object."""

    def __init__(self, status: int, error: JsonDict) -> None:
        super().__init__(error.get("message", ""))
        self.status = status
        self.error = error


@dataclass(frozen=True)
class ChargeRecord:
    """One movement of money: an authorisation, a capture or a refund."""

    kind: str  # "authorisation", "capture" or "refund"
    intent_id: str
    amount: int


@dataclass(frozen=True)
class _StoredResponse:
    request_signature: str
    status: int
    body: JsonDict


def _missing(kind: str, object_id: str, param: str | None = None) -> StripeApiError:
    error: JsonDict = {
        "type": "invalid_request_error",
        "code": "resource_missing",
        "message": f"No such {kind}: '{object_id}'",
    }
    if param is not None:
        error["param"] = param
    return StripeApiError(404, error)


def _invalid(code: str, message: str, **extra: Any) -> StripeApiError:
    return StripeApiError(
        400,
        {"type": "invalid_request_error", "code": code, "message": message, **extra},
    )


class FakeStripe:
    """The state and the HTTP app of the fake; one lock serialises all requests."""

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        webhook_secret: str = TEST_WEBHOOK_SECRET,
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.reset()
        self.app = self._build_app()

    def reset(self) -> None:
        """Forget every object, stored idempotent response and charge."""
        self.customers: dict[str, JsonDict] = {}
        self.payment_methods: dict[str, JsonDict] = {}
        self.payment_intents: dict[str, JsonDict] = {}
        self.refunds: dict[str, JsonDict] = {}
        self.charges: list[ChargeRecord] = []
        self.requests: list[tuple[str, str]] = []
        self._decline_codes: dict[str, str | None] = {}
        self._refunded: dict[str, int] = {}
        self._idempotent: dict[str, _StoredResponse] = {}

    def charges_of(self, kind: str) -> list[ChargeRecord]:
        return [charge for charge in self.charges if charge.kind == kind]

    # Webhooks.

    def sign(self, payload: bytes, *, timestamp: int | None = None) -> str:
        """Return a Stripe-Signature header for ``payload``, signed as Stripe does."""
        signed_at = int(time.time()) if timestamp is None else timestamp
        return sign_webhook(payload, self.webhook_secret, timestamp=signed_at)

    # HTTP.

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/v1/{path:path}", methods=["GET", "POST", "DELETE"])
        async def dispatch(path: str, request: Request) -> Response:
            body = (await request.body()).decode()
            params = dict(parse_qsl(body, keep_blank_values=True))
            if request.method == "GET":
                params = dict(request.query_params)
            status, payload, replayed = self.handle(
                request.method,
                f"/v1/{path}",
                params,
                authorization=request.headers.get("authorization", ""),
                idempotency_key=request.headers.get("idempotency-key"),
            )
            # A fresh connection per request avoids a 40 ms delayed-ACK stall
            # that reused loopback connections to uvicorn show.
            headers = {
                "Request-Id": f"req_{secrets.token_hex(8)}",
                "Connection": "close",
            }
            if replayed:
                headers["Idempotent-Replayed"] = "true"
            return JSONResponse(payload, status_code=status, headers=headers)

        return app

    def handle(
        self,
        method: str,
        path: str,
        params: dict[str, str],
        *,
        authorization: str,
        idempotency_key: str | None,
    ) -> tuple[int, JsonDict, bool]:
        """Handle one request and return (HTTP status, JSON body, is a replay)."""
        if authorization != f"Bearer {self.api_key}":
            error = {
                "type": "authentication_error",
                "message": "Invalid API Key provided.",
            }
            return 401, {"error": error}, False

        with self._lock:
            self.requests.append((method, path))
            signature = json.dumps([method, path, sorted(params.items())])
            if method == "POST" and idempotency_key:
                stored = self._idempotent.get(idempotency_key)
                if stored is not None:
                    if stored.request_signature != signature:
                        error = {
                            "type": "idempotency_error",
                            "message": "Keys for idempotent requests can only be"
                            " used with the same parameters they were first used"
                            " with.",
                        }
                        return 400, {"error": error}, False
                    return stored.status, stored.body, True

            try:
                status, body = 200, self._route(method, path, params)
            except StripeApiError as exc:
                status, body = exc.status, {"error": exc.error}

            if method == "POST" and idempotency_key and (status < 300 or status == 402):
                self._idempotent[idempotency_key] = _StoredResponse(
                    signature, status, body
                )
            return status, body, False

    def _route(self, method: str, path: str, params: dict[str, str]) -> JsonDict:
        parts = path.strip("/").split("/")[1:]
        match method, parts:
            case "POST", ["customers"]:
                return self._create_customer(params)
            case "POST", ["payment_methods"]:
                return self._create_payment_method(params)
            case "POST", ["payment_methods", method_id, "attach"]:
                return self._attach_payment_method(method_id, params)
            case "POST", ["payment_intents"]:
                return self._create_payment_intent(params)
            case "GET", ["payment_intents", intent_id]:
                return self._intent(intent_id)
            case "POST", ["payment_intents", intent_id, "capture"]:
                return self._capture(intent_id, params)
            case "POST", ["payment_intents", intent_id, "cancel"]:
                return self._cancel(intent_id)
            case "POST", ["refunds"]:
                return self._create_refund(params)
        raise _invalid("url_invalid", f"Unrecognized request URL ({method}: {path}).")

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    # Customers and payment methods.

    def _create_customer(self, params: dict[str, str]) -> JsonDict:
        metadata = {
            name[len("metadata[") : -1]: value
            for name, value in params.items()
            if name.startswith("metadata[")
        }
        customer: JsonDict = {
            "id": self._new_id("cus"),
            "object": "customer",
            "email": params.get("email"),
            "metadata": metadata,
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return customer

    def _create_payment_method(self, params: dict[str, str]) -> JsonDict:
        if params.get("type") != "card":
            raise _invalid("parameter_invalid_string", "Only type=card is faked.")
        token = params.get("card[token]", "")
        card = SIMULATED_CARDS.get(token)
        if card is None:
            raise _missing("token", token, param="card[token]")
        method: JsonDict = {
            "id": self._new_id("pm"),
            "object": "payment_method",
            "type": "card",
            "card": {
                "brand": card.brand,
                "last4": card.last4,
                "exp_month": 12,
                "exp_year": 2034,
                "funding": "credit",
                "country": "US",
            },
            "customer": None,
            "livemode": False,
        }
        self.payment_methods[method["id"]] = method
        self._decline_codes[method["id"]] = card.decline_code
        return method

    def _attach_payment_method(
        self, method_id: str, params: dict[str, str]
    ) -> JsonDict:
        method = self.payment_methods.get(method_id)
        if method is None:
            raise _missing("PaymentMethod", method_id, param="payment_method")
        customer = params.get("customer", "")
        if customer not in self.customers:
            raise _missing("customer", customer, param="customer")
        method["customer"] = customer
        return method

    # PaymentIntents.

    def _intent(self, intent_id: str) -> JsonDict:
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, param="intent")
        return intent

    def _create_payment_intent(self, params: dict[str, str]) -> JsonDict:
        customer = params.get("customer", "")
        if customer not in self.customers:
            raise _missing("customer", customer, param="customer")
        method_id = params.get("payment_method", "")
        method = self.payment_methods.get(method_id)
        if method is None or method["customer"] != customer:
            raise _missing("payment_method", method_id, param="payment_method")
        if params.get("capture_method") != "manual" or params.get("confirm") != "true":
            raise _invalid(
                "parameter_invalid_string",
                "The fake only places holds: capture_method=manual, confirm=true.",
            )

        amount = int(params["amount"])
        intent: JsonDict = {
            "id": self._new_id("pi"),
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": params["currency"],
            "customer": customer,
            "payment_method": method_id,
            "capture_method": "manual",
            "status": "requires_payment_method",
            "latest_charge": None,
            "livemode": False,
        }
        self.payment_intents[intent["id"]] = intent

        decline_code = self._decline_codes[method_id]
        if decline_code is not None:
            card = next(
                c for c in SIMULATED_CARDS.values() if c.decline_code == decline_code
            )
            code = "expired_card" if decline_code == "expired_card" else "card_declined"
            error = {
                "type": "card_error",
                "code": code,
                "decline_code": decline_code,
                "message": card.decline_message,
                "payment_intent": dict(intent),
            }
            intent["last_payment_error"] = error
            raise StripeApiError(402, error)

        intent["status"] = "requires_capture"
        intent["amount_capturable"] = amount
        intent["latest_charge"] = self._new_id("ch")
        self.charges.append(ChargeRecord("authorisation", intent["id"], amount))
        return intent

    def _unexpected_state(self, intent: JsonDict, action: str) -> StripeApiError:
        return _invalid(
            "payment_intent_unexpected_state",
            f"This PaymentIntent could not be {action} because it has a status of"
            f" {intent['status']}.",
            payment_intent=dict(intent),
        )

    def _capture(self, intent_id: str, params: dict[str, str]) -> JsonDict:
        intent = self._intent(intent_id)
        if intent["status"] != "requires_capture":
            raise self._unexpected_state(intent, "captured")
        amount = int(params.get("amount_to_capture", str(intent["amount_capturable"])))
        if amount > intent["amount_capturable"]:
            raise _invalid(
                "amount_too_large",
                "The amount to capture must be less than or equal to the"
                f" capturable amount ({intent['amount_capturable']}).",
                param="amount_to_capture",
            )
        intent["status"] = "succeeded"
        intent["amount_received"] = amount
        intent["amount_capturable"] = 0
        self.charges.append(ChargeRecord("capture", intent_id, amount))
        return intent

    def _cancel(self, intent_id: str) -> JsonDict:
        intent = self._intent(intent_id)
        if intent["status"] not in ("requires_capture", "requires_payment_method"):
            raise self._unexpected_state(intent, "canceled")
        intent["status"] = "canceled"
        intent["amount_capturable"] = 0
        return intent

    # Refunds.

    def _create_refund(self, params: dict[str, str]) -> JsonDict:
        intent_id = params.get("payment_intent", "")
        intent = self.payment_intents.get(intent_id)
        if intent is None:
            raise _missing("payment_intent", intent_id, param="payment_intent")
        if intent["status"] != "succeeded":
            raise self._unexpected_state(intent, "refunded")
        refunded = self._refunded.get(intent_id, 0)
        remaining = intent["amount_received"] - refunded
        if remaining == 0:
            raise _invalid(
                "charge_already_refunded",
                f"Charge {intent['latest_charge']} has already been refunded.",
            )

        amount = int(params.get("amount", str(remaining)))
        if amount > remaining:
            raise _invalid(
                "amount_too_large",
                f"Refund amount ({amount}) is greater than unrefunded amount on"
                f" charge ({remaining}).",
                param="amount",
            )

        self._refunded[intent_id] = refunded + amount
        refund = {
            "id": self._new_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent_id,
            "charge": intent["latest_charge"],
            "status": "succeeded",
        }
        self.refunds[refund["id"]] = refund
        self.charges.append(ChargeRecord("refund", intent_id, amount))
        return refund


def sign_webhook(payload: bytes, secret: str, *, timestamp: int) -> str:
    """Return ``t=...,v1=...``, the HMAC-SHA256 of "timestamp.payload" under secret."""
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def event_payload(event_type: str, data_object: JsonDict) -> bytes:
    """Return the JSON body of a Stripe event of ``event_type`` about the object."""
    event = {
        "id": f"evt_fake{secrets.token_hex(6)}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "api_version": "2025-01-27.acacia",
        "data": {"object": data_object},
    }
    return json.dumps(event).encode()


@contextmanager
def serve(app: FastAPI, *, start_timeout_s: float = 10.0) -> Iterator[str]:
    """Run ``app`` on a free port of 127.0.0.1 and yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, daemon=True
    )
    thread.start()

    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"The fake Stripe server did not start on port {port}.")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()
