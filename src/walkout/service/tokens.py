"""Bearer access tokens: JWTs (HS256) that name an account and expire."""

from __future__ import annotations

from datetime import datetime, timedelta

import jwt

ACCESS_AUDIENCE = "walkout:api"
ACCESS_TOKEN_TYPE = "access"
ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    """The bearer token is malformed, forged, of the wrong type or expired."""


def issue_access_token(
    account_id: str, *, secret_key: str, lifetime: timedelta, now: datetime
) -> str:
    claims = {
        "sub": account_id,
        "aud": ACCESS_AUDIENCE,
        "typ": ACCESS_TOKEN_TYPE,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    return jwt.encode(claims, secret_key, algorithm=ALGORITHM)


def read_access_token(token: str, *, secret_key: str, now: datetime) -> str:
    """Return the account id of a valid access token; raise ``InvalidTokenError``."""
    try:
        # Expiry is compared with the service clock below, not the wall clock.
        claims = jwt.decode(
            token,
            secret_key,
            algorithms=[ALGORITHM],
            audience=ACCESS_AUDIENCE,
            options={"verify_exp": False, "require": ["sub", "exp", "aud"]},
        )
    except jwt.InvalidTokenError as error:
        raise InvalidTokenError(f"the access token is invalid: {error}") from error
    if claims.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("the token is not an access token")
    if now.timestamp() >= float(claims["exp"]):
        raise InvalidTokenError("the access token expired; log in again")
    return str(claims["sub"])
