"""Accounts: sign-up, password checks (argon2), roles, the card on file."""

from __future__ import annotations

import contextlib
import enum
import logging
import uuid
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from walkout.db.models import Account
from walkout.payments.base import PaymentError, PaymentProvider
from walkout.store.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PaymentFailedError,
)

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()

# Verified against when the email is unknown, so that a login takes as long
# for an unknown email as for a wrong password.
_UNKNOWN_ACCOUNT_HASH = _hasher.hash("walkout-no-such-account")


class Role(enum.StrEnum):
    SHOPPER = "shopper"
    STAFF = "staff"
    REVIEWER = "reviewer"
    ADMIN = "admin"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(
            "password_too_short",
            f"the password has {len(password)} characters; "
            f"use at least {MIN_PASSWORD_LENGTH}",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidRequestError(
            "password_too_long",
            f"the password has {len(password)} characters; "
            f"use at most {MAX_PASSWORD_LENGTH}",
        )


def create_account(
    session: Session, *, email: str, password: str, role: Role, now: datetime
) -> Account:
    """Create and commit an account; raise ``ConflictError`` for a taken email."""
    email = normalise_email(email)
    check_password_strength(password)
    if find_account_by_email(session, email) is not None:
        raise ConflictError(
            "email_taken", f"an account with email {email!r} already exists"
        )
    account = Account(
        id=str(uuid.uuid4()),
        email=email,
        password_hash=_hasher.hash(password),
        role=role.value,
        created_at=now,
    )
    session.add(account)
    session.commit()
    logger.info("account_created account=%s role=%s", account.id, role.value)
    return account


def find_account_by_email(session: Session, email: str) -> Account | None:
    statement = select(Account).where(Account.email == normalise_email(email))
    return session.scalars(statement).one_or_none()


def get_account(session: Session, account_id: str) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError("account_not_found", f"account {account_id} not found")
    return account


def authenticate(session: Session, email: str, password: str) -> Account | None:
    """Return the account whose email and password match, or None."""
    account = find_account_by_email(session, email)
    if account is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_UNKNOWN_ACCOUNT_HASH, password)
        return None
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
        session.commit()
    return account


def set_role(session: Session, account: Account, role: Role) -> Account:
    account.role = role.value
    session.commit()
    logger.info("account_role_changed account=%s role=%s", account.id, role.value)
    return account


def attach_card(
    session: Session, provider: PaymentProvider, account: Account, *, token: str
) -> Account:
    """Attach the card behind the provider's ``token`` as the account's card on file."""
    try:
        if account.payment_customer is None:
            account.payment_customer = provider.create_customer(
                account.id, email=account.email
            )
            session.commit()
        method = provider.attach_card(account.payment_customer, token=token)
    except PaymentError as error:
        logger.warning("card_attach_failed account=%s code=%s", account.id, error.code)
        raise PaymentFailedError(error.code, str(error)) from error
    account.payment_method = method.id
    account.card_brand = method.brand
    account.card_last4 = method.last4
    session.commit()
    logger.info("card_attached account=%s provider=%s", account.id, provider.name)
    return account


def ensure_first_admin(
    session: Session, *, email: str, password: str, now: datetime
) -> Account:
    """Create the admin account ``email`` unless it exists; promote it otherwise."""
    account = find_account_by_email(session, email)
    if account is None:
        return create_account(
            session, email=email, password=password, role=Role.ADMIN, now=now
        )
    if account.role != Role.ADMIN:
        set_role(session, account, Role.ADMIN)
    return account
