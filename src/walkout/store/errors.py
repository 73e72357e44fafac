"""Errors of the store domain.

Every error carries a stable, machine-readable ``code`` that the API puts in
its error bodies; the class says which kind of failure it is::

    StoreError
    ├── NotFoundError          the resource does not exist or is not visible
    ├── PermissionDeniedError  the caller may not do this
    ├── InvalidRequestError    the request is malformed or out of range
    ├── ConflictError          the request clashes with the current state
    ├── PaymentFailedError     the payment provider rejected the call
    ├── PassRejectedError      the gate rejected an entry pass
    └── AuthenticationFailedError  the credentials do not match an account
"""

from __future__ import annotations


class StoreError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class NotFoundError(StoreError):
    pass


class PermissionDeniedError(StoreError):
    pass


class InvalidRequestError(StoreError):
    pass


class ConflictError(StoreError):
    pass


class PaymentFailedError(StoreError):
    pass


class PassRejectedError(StoreError):
    """The gate rejected an entry pass (invalid, expired, used, other store)."""


class AuthenticationFailedError(StoreError):
    """The credentials do not match an account."""
