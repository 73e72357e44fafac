"""FastAPI dependencies, injected through the typed aliases defined here."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from walkout.db.models import Account
from walkout.payments.base import PaymentProvider
from walkout.service.context import ServiceContext
from walkout.service.settings import Settings
from walkout.service.tokens import InvalidTokenError, read_access_token
from walkout.store.accounts import Role
from walkout.store.errors import PermissionDeniedError

logger = logging.getLogger(__name__)

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token")


def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


ContextDep = Annotated[ServiceContext, Depends(get_context)]


def get_settings(context: ContextDep) -> Settings:
    return context.settings


def get_provider(context: ContextDep) -> PaymentProvider:
    return context.provider


def get_now(context: ContextDep) -> datetime:
    return context.clock()


def get_session(context: ContextDep) -> Iterator[Session]:
    """Open one session per request; domain services commit, the rest rolls back."""
    with context.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ProviderDep = Annotated[PaymentProvider, Depends(get_provider)]
NowDep = Annotated[datetime, Depends(get_now)]
SessionDep = Annotated[Session, Depends(get_session)]
TokenDep = Annotated[str, Depends(oauth2_scheme)]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=message,
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_current_account(
    session: SessionDep, settings: SettingsDep, now: NowDep, token: TokenDep
) -> Account:
    try:
        account_id = read_access_token(
            token, secret_key=settings.secret_key.get_secret_value(), now=now
        )
    except InvalidTokenError as error:
        raise _unauthorised(str(error)) from error
    account = session.get(Account, account_id)
    if account is None:
        raise _unauthorised("the account of this token no longer exists")
    return account


CurrentAccount = Annotated[Account, Depends(get_current_account)]


def require_role(*roles: Role) -> Callable[[Account], Account]:
    """Build a dependency that admits only accounts with one of ``roles``."""
    allowed = {role.value for role in roles}

    def check(account: CurrentAccount) -> Account:
        if account.role not in allowed:
            raise PermissionDeniedError(
                "role_forbidden",
                f"this action needs role {' or '.join(sorted(allowed))}; "
                f"the account has role {account.role!r}",
            )
        return account

    return check


AdminAccount = Annotated[Account, Depends(require_role(Role.ADMIN))]
