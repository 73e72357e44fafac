"""Sign-up and the OAuth2 password flow that issues bearer tokens."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field, StringConstraints

from walkout.api.accounts import AccountOut
from walkout.api.deps import NowDep, SessionDep, SettingsDep
from walkout.api.errors import ErrorBody
from walkout.service.tokens import issue_access_token
from walkout.store import accounts
from walkout.store.errors import AuthenticationFailedError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/auth", tags=["auth"])

Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


class SignUp(BaseModel):
    email: Email
    password: str = Field(
        min_length=accounts.MIN_PASSWORD_LENGTH,
        max_length=accounts.MAX_PASSWORD_LENGTH,
    )


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


@router.post(
    "/signup",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody}},
)
def sign_up(body: SignUp, session: SessionDep, now: NowDep) -> AccountOut:
    """Create a shopper account."""
    account = accounts.create_account(
        session,
        email=body.email,
        password=body.password,
        role=accounts.Role.SHOPPER,
        now=now,
    )
    return AccountOut.from_row(account)


@router.post("/token", responses={401: {"model": ErrorBody}})
def log_in(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    now: NowDep,
) -> TokenOut:
    """Exchange an email (as ``username``) and password for a bearer token."""
    account = accounts.authenticate(session, form.username, form.password)
    if account is None:
        logger.info("login_failed")
        raise AuthenticationFailedError(
            "invalid_credentials", "the email or password is incorrect"
        )
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token = issue_access_token(
        account.id,
        secret_key=settings.secret_key.get_secret_value(),
        lifetime=lifetime,
        now=now,
    )
    logger.info("login_succeeded account=%s", account.id)
    return TokenOut(access_token=token, expires_in=int(lifetime.total_seconds()))
