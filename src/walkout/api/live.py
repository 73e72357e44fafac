"""Live sensor ingestion (HTTP batches, a WebSocket) and visit events for the app."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import (
    APIRouter,
    Path,
    Request,
    Response,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from walkout.api.deps import ContextDep, CurrentAccount, SessionDep
from walkout.api.errors import ErrorBody
from walkout.api.receipts import ReceiptOut
from walkout.db.models import Account, Receipt, Visit
from walkout.live.ingest import BatchAck, SensorBatch, store_batch
from walkout.service.context import ServiceContext
from walkout.service.tokens import InvalidTokenError, read_access_token
from walkout.store import stores, visits
from walkout.store.errors import PermissionDeniedError, StoreError
from walkout.store.gates import VisitStatus

logger = logging.getLogger(__name__)

router = APIRouter(tags=["live"])

StoreId = Annotated[str, Path(max_length=64)]
VisitId = Annotated[str, Path(max_length=36)]

# A comment line keeps idle event streams open through proxies, and shows
# when the client has gone.
KEEPALIVE_S = 15.0


class BatchAckOut(BaseModel):
    batch_id: str
    input_id: int
    duplicate: bool
    weights: int
    poses: int
    vision: int

    @classmethod
    def from_ack(cls, ack: BatchAck) -> BatchAckOut:
        return cls(
            batch_id=ack.batch_id,
            input_id=ack.input_id,
            duplicate=ack.duplicate,
            weights=ack.weights,
            poses=ack.poses,
            vision=ack.vision,
        )


def require_sensor_writer(session: Session, account: Account, store_id: str) -> None:
    store = stores.get_store(session, store_id)
    if not stores.can_operate(session, account, store.id):
        raise PermissionDeniedError(
            "not_store_staff",
            f"only staff of store {store.id!r} and admins send its sensor data",
        )


def _store(context: ServiceContext, store_id: str, batch: SensorBatch) -> BatchAck:
    with context.session_factory() as session:
        return store_batch(
            session,
            store_id,
            batch,
            now=context.clock(),
            max_lead_s=context.settings.max_reading_lead_s,
        )


@router.post(
    "/stores/{store_id}/sensors/batches",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {"model": BatchAckOut, "description": "a batch stored before, again"},
        403: {"model": ErrorBody},
        404: {"model": ErrorBody},
        422: {"model": ErrorBody},
    },
)
async def post_sensor_batch(
    store_id: StoreId,
    batch: SensorBatch,
    account: CurrentAccount,
    session: SessionDep,
    context: ContextDep,
    response: Response,
) -> BatchAckOut:
    """Store one batch of weights, poses and vision rows, then acknowledge it.

    The response is sent after the batch is committed. A retried
    ``batch_id`` is stored once and acknowledged again with 200 and
    ``duplicate`` true.
    """
    await run_in_threadpool(require_sensor_writer, session, account, store_id)
    ack = await run_in_threadpool(_store, context, store_id, batch)
    if ack.duplicate:
        response.status_code = status.HTTP_200_OK
    else:
        await context.live.publish(store_id, ack.input_id)
    return BatchAckOut.from_ack(ack)


def _websocket_rejection(
    context: ServiceContext, websocket: WebSocket, store_id: str
) -> StoreError | str | None:
    """Return why the socket is rejected, or None when the caller may send data."""
    header = websocket.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return "a bearer token is required"
    settings = context.settings
    try:
        account_id = read_access_token(
            token,
            secret_key=settings.secret_key.get_secret_value(),
            now=context.clock(),
        )
    except InvalidTokenError as error:
        return str(error)
    with context.session_factory() as session:
        account = session.get(Account, account_id)
        if account is None:
            return "the account of this token no longer exists"
        try:
            require_sensor_writer(session, account, store_id)
        except StoreError as error:
            return error
    return None


def _error_frame(code: str, message: str, batch_id: str | None) -> str:
    return json.dumps(
        {"error": {"code": code, "message": message}, "batch_id": batch_id}
    )


@router.websocket("/stores/{store_id}/sensors/stream")
async def sensor_stream(websocket: WebSocket, store_id: str) -> None:
    """Take sensor batches as text frames and reply to each with an ack or an error.

    Each frame is one batch, as in ``POST /stores/{store_id}/sensors/batches``.
    The ack (the same body) is sent after the batch is committed.
    """
    context: ServiceContext = websocket.app.state.context
    rejected = await run_in_threadpool(
        _websocket_rejection, context, websocket, store_id
    )
    if rejected is not None:
        reason = rejected.message if isinstance(rejected, StoreError) else rejected
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=reason[:120])
        logger.warning("sensor_stream_rejected store=%s reason=%s", store_id, reason)
        return
    await websocket.accept()
    logger.info("sensor_stream_opened store=%s", store_id)
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None:
                await websocket.send_text(
                    _error_frame(
                        "invalid_sensor_batch",
                        "binary frame; send each batch as a JSON text frame",
                        None,
                    )
                )
                continue
            try:
                batch = SensorBatch.model_validate_json(text)
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(part) for part in first["loc"])
                await websocket.send_text(
                    _error_frame(
                        "invalid_sensor_batch", f"{where}: {first['msg']}", None
                    )
                )
                continue
            try:
                ack = await run_in_threadpool(_store, context, store_id, batch)
            except StoreError as error:
                await websocket.send_text(
                    _error_frame(error.code, error.message, batch.batch_id)
                )
                continue
            if not ack.duplicate:
                await context.live.publish(store_id, ack.input_id)
            await websocket.send_text(BatchAckOut.from_ack(ack).model_dump_json())
    except WebSocketDisconnect:
        logger.info("sensor_stream_closed store=%s", store_id)


def _visit_state(
    context: ServiceContext, visit_id: str
) -> tuple[str, dict[str, object] | None]:
    # Settling commits the status and the receipt together. One statement
    # reads both, because two statements under read committed could see an
    # ended visit beside its new receipt.
    with context.session_factory() as session:
        row = session.execute(
            select(Visit.status, Receipt)
            .outerjoin(Receipt, Receipt.visit_id == Visit.id)
            .where(Visit.id == visit_id)
            .limit(1)
        ).first()
        if row is None:
            return "", None
        status, receipt = row
        body = None
        if receipt is not None:
            body = json.loads(ReceiptOut.from_row(receipt).model_dump_json())
        return str(status), body


def _event(name: str, data: object) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


@router.get(
    "/visits/{visit_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        404: {"model": ErrorBody},
    },
)
def visit_events(
    visit_id: VisitId,
    request: Request,
    account: CurrentAccount,
    session: SessionDep,
    context: ContextDep,
) -> StreamingResponse:
    """Stream the visit's status changes and its receipt as server-sent events.

    Events: ``status`` (``{"visit_id", "status"}``) at the start and on every
    change, and ``receipt`` (the receipt body) once issued, after which the
    stream ends. Only the visit's shopper, staff of its store, reviewers and
    admins may listen.
    """
    visits.get_visit(session, visit_id, reader=account)
    # The request's session would otherwise keep its connection until the
    # stream ends; the stream opens its own short sessions.
    session.close()
    poll_s = context.settings.visit_events_poll_s

    async def stream() -> AsyncIterator[bytes]:
        sent_status = ""
        idle = 0.0
        while True:
            state, receipt = await run_in_threadpool(_visit_state, context, visit_id)
            if state and state != sent_status:
                sent_status = state
                idle = 0.0
                yield _event("status", {"visit_id": visit_id, "status": state})
            if receipt is not None:
                yield _event("receipt", receipt)
                return
            if state == VisitStatus.SETTLED or not state:
                return
            if await request.is_disconnected():
                logger.info("visit_events_closed visit=%s", visit_id)
                return
            await asyncio.sleep(poll_s)
            idle += poll_s
            if idle >= KEEPALIVE_S:
                idle = 0.0
                yield b": keep-alive\n\n"

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache"},
    )
