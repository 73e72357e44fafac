"""Entry passes: short-lived, single-use, signed tokens shown at the gate as a QR code.

A pass is a JWT (HS256) whose ``jti`` is the id of an ``entry_passes`` row.
The signature proves the service issued it, and the row makes it single-use:
the gate claims it with a conditional update, so two gates scanning the same
pass at once admit at most one party.
"""

from __future__ import annotations

import io
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
import qrcode
from sqlalchemy import update
from sqlalchemy.orm import Session

from walkout.db.models import Account, EntryPass, Store
from walkout.store.errors import (
    InvalidRequestError,
    PassRejectedError,
    PaymentFailedError,
)
from walkout.store.events import EventName, record_event

logger = logging.getLogger(__name__)

PASS_AUDIENCE = "walkout:gate"
PASS_TOKEN_TYPE = "entry_pass"
ALGORITHM = "HS256"


@dataclass(frozen=True)
class IssuedPass:
    entry_pass: EntryPass
    token: str


def issue_pass(
    session: Session,
    *,
    account: Account,
    store: Store,
    party_size: int,
    max_party_size: int,
    lifetime: timedelta,
    secret_key: str,
    now: datetime,
) -> IssuedPass:
    """Create, commit and sign an entry pass for ``party_size`` people."""
    if not 1 <= party_size <= max_party_size:
        raise InvalidRequestError(
            "party_size_out_of_range",
            f"party size {party_size} is out of range; "
            f"one pass admits 1 to {max_party_size} people",
        )
    # Staff and admin passes open restock visits, which charge no card.
    restock = account.role in ("staff", "admin")
    if account.payment_method is None and not restock:
        raise PaymentFailedError(
            "payment_method_missing",
            "the account has no card on file; add one before requesting a pass",
        )
    entry_pass = EntryPass(
        id=str(uuid.uuid4()),
        account_id=account.id,
        store_id=store.id,
        party_size=party_size,
        issued_at=now,
        expires_at=now + lifetime,
    )
    session.add(entry_pass)
    record_event(
        session,
        EventName.ENTRY_PASS_ISSUED,
        store_id=store.id,
        now=now,
        account=account.id,
        entry_pass=entry_pass.id,
        party_size=party_size,
    )
    session.commit()
    claims = {
        "jti": entry_pass.id,
        "sub": account.id,
        "aud": PASS_AUDIENCE,
        "typ": PASS_TOKEN_TYPE,
        "store": store.id,
        "party": party_size,
        "iat": int(now.timestamp()),
        "exp": int(entry_pass.expires_at.timestamp()),
    }
    token = jwt.encode(claims, secret_key, algorithm=ALGORITHM)
    return IssuedPass(entry_pass=entry_pass, token=token)


def pass_qr_png(token: str) -> bytes:
    """Render ``token`` as a QR code PNG for the gate's scanner."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(token)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image().save(buffer)
    return buffer.getvalue()


def verify_pass(
    session: Session, token: str, *, store_id: str, secret_key: str, now: datetime
) -> EntryPass:
    """Check the signature, store, expiry and single use of a scanned pass.

    Raise ``PassRejectedError`` with code ``pass_invalid``, ``pass_wrong_store``,
    ``pass_expired`` or ``pass_already_used``.
    """
    try:
        # Expiry is checked below against the row and the service clock.
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=PASS_AUDIENCE,
            options={"verify_exp": False, "require": ["jti", "exp", "aud"]},
        )
    except jwt.InvalidTokenError as error:
        raise PassRejectedError(
            "pass_invalid", f"the entry pass is invalid: {error}"
        ) from error
    if claims.get("typ") != PASS_TOKEN_TYPE:
        raise PassRejectedError("pass_invalid", "the token is not an entry pass")

    entry_pass = session.get(EntryPass, str(claims["jti"]))
    if entry_pass is None:
        raise PassRejectedError("pass_invalid", "the entry pass is unknown")
    if entry_pass.store_id != store_id:
        raise PassRejectedError(
            "pass_wrong_store",
            f"the entry pass is for store {entry_pass.store_id!r}, not {store_id!r}",
        )
    if entry_pass.used_at is not None:
        raise PassRejectedError(
            "pass_already_used", "the entry pass was already used; request a new one"
        )
    if now >= entry_pass.expires_at:
        raise PassRejectedError(
            "pass_expired",
            f"the entry pass expired at {entry_pass.expires_at.isoformat()}; "
            "request a new one",
        )
    return entry_pass


def claim_pass(session: Session, entry_pass: EntryPass, *, now: datetime) -> None:
    """Mark the pass used in the current transaction, once across all gates."""
    statement = (
        update(EntryPass)
        .where(EntryPass.id == entry_pass.id, EntryPass.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if session.execute(statement).rowcount != 1:  # type: ignore[attr-defined]
        raise PassRejectedError(
            "pass_already_used", "the entry pass was already used; request a new one"
        )
    entry_pass.used_at = now
