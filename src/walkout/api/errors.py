"""Error bodies: ``{"error": {"code": ..., "message": ...}}`` for every failure."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from walkout.store.errors import (
    AuthenticationFailedError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PassRejectedError,
    PaymentFailedError,
    PermissionDeniedError,
    StoreError,
)

logger = logging.getLogger(__name__)

STATUS_BY_ERROR: dict[type[StoreError], int] = {
    AuthenticationFailedError: status.HTTP_401_UNAUTHORIZED,
    NotFoundError: status.HTTP_404_NOT_FOUND,
    PermissionDeniedError: status.HTTP_403_FORBIDDEN,
    PassRejectedError: status.HTTP_403_FORBIDDEN,
    InvalidRequestError: status.HTTP_422_UNPROCESSABLE_CONTENT,
    ConflictError: status.HTTP_409_CONFLICT,
    PaymentFailedError: status.HTTP_402_PAYMENT_REQUIRED,
}

CODE_BY_STATUS = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


def error_response(
    status_code: int,
    code: str,
    message: str,
    *,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(
        status_code=status_code,
        content=jsonable_encoder(body, exclude_none=True),
        headers=headers,
    )


async def _store_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StoreError)
    status_code = status.HTTP_400_BAD_REQUEST
    for error_type, mapped in STATUS_BY_ERROR.items():
        if isinstance(error, error_type):
            status_code = mapped
    logger.info(
        "request_failed method=%s path=%s status=%d code=%s",
        request.method,
        request.url.path,
        status_code,
        error.code,
    )
    return error_response(status_code, error.code, error.message)


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    code = CODE_BY_STATUS.get(error.status_code, "http_error")
    return error_response(
        error.status_code, code, str(error.detail), headers=error.headers
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    # Drop the rejected input from the details: it may be a password.
    details = [
        {
            "loc": list(item.get("loc", ())),
            "msg": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        for item in error.errors()
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(part) for part in first["loc"])
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        "invalid_request",
        f"{where}: {first['msg']}" if where else str(first["msg"]),
        details=details,
    )


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    logger.exception(
        "request_crashed method=%s path=%s", request.method, request.url.path
    )
    return error_response(
        status.HTTP_500_INTERNAL_SERVER_ERROR,
        "internal_error",
        "the service failed to handle the request; it was logged",
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StoreError, _store_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected_error)
