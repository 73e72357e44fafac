"""The message bus on NATS JetStream, for ingestion and fusion in separate processes.

All subjects under ``walkout.`` go into one file-storage stream, so a message
survives a restart of the publisher, the subscriber and the NATS server. Each
subscription is a durable pull consumer with explicit acks and at most one
unacknowledged message, which keeps the delivery order of a subject even when
a handler fails and its message is delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    Header,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.nuid import NUID

from walkout.live.bus import SUBJECT_PREFIX, Handler, Message

logger = logging.getLogger(__name__)

# A subject is literal (no wildcards) and made of tokens that
# ``walkout.live.bus.subject_token`` can produce.
_SUBJECT = re.compile(rf"{SUBJECT_PREFIX}(\.[A-Za-z0-9_=-]+)+")
# Durable names may carry tokens of ``subject_token``, such as ``fusion-s=002e1``.
_DURABLE = re.compile(r"[A-Za-z0-9_=-]+")

# JetStream error code of "stream name already in use with a different
# configuration" (nats-server 2.9 and later).
_STREAM_NAME_IN_USE = 10058

# Each fetch requests one message and waits at most this long, so an idle
# subscription sends one pull request per interval and ``close`` waits at most
# this long for an idle consumer to stop.
_FETCH_SECONDS = 1.0

# Timeout of one publish attempt. ``publish`` tries again with the same
# message id until ``publish_timeout`` has passed, and the stream drops a
# repeated message id within its duplicate window (two minutes by default).
_PUBLISH_ATTEMPT_SECONDS = 1.0

# An idle subscription checks every this many fetches that its consumer
# still exists, because a fetch from a deleted one only times out.
_CONSUMER_CHECK_FETCHES = 5

# Pause before a consumer whose fetch failed (stream or consumer missing,
# JetStream restarting) recreates the consumer and fetches again.
_CONSUMER_RETRY_SECONDS = 1.0

# The client reports an error on each failed reconnect attempt. The first one
# after a connection loss is logged, then every 30th.
_ERROR_LOG_EVERY = 30


class NatsBusError(RuntimeError):
    """Error of an unreachable NATS server, one without JetStream, or a missing ack."""


def redact_url(url: str) -> str:
    """Return ``url`` without user name, password or token, for logs and errors."""
    servers = []
    for server in url.split(","):
        parts = urlsplit(server.strip())
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:
            port = None
        netloc = f"{host}:{port}" if port is not None else host
        if parts.username is not None or parts.password is not None:
            netloc = f"***@{netloc}"
        scheme = f"{parts.scheme}://" if parts.scheme else ""
        servers.append(f"{scheme}{netloc}")
    return ",".join(servers)


def consumer_name(durable: str, subject: str) -> str:
    """Return the JetStream consumer name of ``durable`` on ``subject``.

    A consumer name may not contain dots, so the dots of the subject become
    ``~``. Neither a valid durable name nor a valid subject contains ``~``,
    so different pairs get different names.
    """
    return f"{durable}~{subject.replace('.', '~')}"


def _check_subject(subject: str) -> None:
    if _SUBJECT.fullmatch(subject) is None:
        raise ValueError(
            f"invalid bus subject {subject!r}: expected literal tokens of"
            f" letters, digits, '_', '-' or '=' after '{SUBJECT_PREFIX}.'"
        )


@dataclass
class _Subscription:
    subject: str
    consumer: str
    handler: Handler
    # True while the handler runs, so that ``close`` lets it finish.
    handling: bool = False
    pull: JetStreamContext.PullSubscription | None = field(default=None, repr=False)
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class NatsJetStreamBus:
    """A bus that keeps its messages in a NATS JetStream stream on file storage.

    ``url`` is a NATS server URL such as ``nats://127.0.0.1:4222``. It may
    carry credentials, so logs and errors show only its scheme, host and port.
    All times are in seconds. ``max_age`` is how long the stream keeps a
    message, consumed or not. ``ack_wait`` is how long the server waits for an
    ack before it delivers a message again, and a running handler extends it.
    ``retry_delay`` is the pause before a message whose handler raised is
    delivered again.
    """

    def __init__(
        self,
        url: str,
        *,
        stream: str = "walkout",
        connect_timeout: float = 10.0,
        publish_timeout: float = 5.0,
        ack_wait: float = 30.0,
        retry_delay: float = 1.0,
        # NOTE: seven days is a guess at the longest fusion outage, not a
        # measurement. A consumer created for the first time starts at the
        # oldest message that the stream keeps.
        max_age: float = 7 * 24 * 3600.0,
    ) -> None:
        self._url = url
        self._server = redact_url(url)
        self._stream = stream
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._ack_wait = ack_wait
        self._retry_delay = retry_delay
        self._max_age = max_age
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscriptions: dict[str, _Subscription] = {}
        self._stopping = asyncio.Event()
        self._errors_since_connect = 0
        self._nuid = NUID()

    async def start(self) -> None:
        """Connect, check that JetStream is enabled and create or update the stream.

        Raises ``NatsBusError`` naming the server when no connection is made
        within ``connect_timeout`` seconds or the server has no JetStream.
        """
        if self._nc is not None:
            return
        self._stopping.clear()
        nc = Client()
        try:
            # Without a limit on attempts the client reconnects forever after
            # a connection loss. The first connection is bounded by the timeout.
            await asyncio.wait_for(
                nc.connect(
                    self._url,
                    name=f"walkout {self._stream}",
                    connect_timeout=max(1, round(min(self._connect_timeout, 5.0))),
                    max_reconnect_attempts=-1,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    closed_cb=self._on_closed,
                ),
                timeout=self._connect_timeout,
            )
        except (TimeoutError, OSError, nats.errors.Error) as error:
            await self._abandon(nc)
            raise NatsBusError(
                f"could not connect to the NATS server {self._server} within"
                f" {self._connect_timeout:g} s ({type(error).__name__}: {error});"
                " check that nats-server runs there with JetStream (-js)"
            ) from error
        js = nc.jetstream(timeout=self._publish_timeout)
        try:
            await js.account_info()
        except nats.js.errors.ServiceUnavailableError as error:
            await self._abandon(nc)
            raise NatsBusError(
                f"the NATS server {self._server} has no JetStream; start"
                " nats-server with -js and a store directory (-sd)"
            ) from error
        except nats.errors.TimeoutError as error:
            await self._abandon(nc)
            raise NatsBusError(
                f"the NATS server {self._server} did not respond to a JetStream"
                f" request within {self._publish_timeout:g} s; check its load"
                " and JetStream settings"
            ) from error
        self._nc = nc
        self._js = js
        try:
            await self._ensure_stream()
        except BaseException:
            await self.close()
            raise
        logger.info("bus_started server=%s stream=%s", self._server, self._stream)

    async def publish(self, subject: str, data: bytes) -> None:
        """Publish ``data`` on ``subject`` and return once JetStream has stored it.

        Each attempt carries the same message id, so the stream stores the
        message once even when an attempt timed out after the server got it,
        for example while the client reconnects. Raises ``NatsBusError`` when
        no ack arrives within ``publish_timeout`` seconds. The message may
        still be stored then, so publishing it again can store it twice.
        """
        _check_subject(subject)
        js = self._jetstream()
        message_id = self._nuid.next().decode()
        deadline = time.monotonic() + self._publish_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                await js.publish(
                    subject,
                    data,
                    timeout=max(min(remaining, _PUBLISH_ATTEMPT_SECONDS), 0.001),
                    stream=self._stream,
                    headers={Header.MSG_ID.value: message_id},
                )
                return
            except nats.js.errors.NoStreamResponseError:
                # JetStream is not ready yet after a server restart, or the
                # stream was deleted, so create it again.
                if time.monotonic() >= deadline:
                    raise NatsBusError(
                        f"no stream at {self._server} stored a message on"
                        f" {subject} within {self._publish_timeout:g} s"
                    ) from None
                with contextlib.suppress(nats.errors.Error, NatsBusError):
                    await self._ensure_stream()
                await asyncio.sleep(0.05)
            except nats.errors.TimeoutError:
                if time.monotonic() >= deadline:
                    raise NatsBusError(
                        f"no JetStream ack for a message on {subject} from"
                        f" {self._server} within {self._publish_timeout:g} s"
                    ) from None
                await asyncio.sleep(0.05)
            except (nats.js.errors.Error, nats.errors.Error) as error:
                raise NatsBusError(
                    f"publishing on {subject} to stream {self._stream} at"
                    f" {self._server} failed: {type(error).__name__}: {error}"
                ) from error

    async def subscribe(self, subject: str, durable: str, handler: Handler) -> None:
        """Deliver the messages of ``subject`` to ``handler`` one at a time, in order.

        The consumer ``durable`` keeps its position on the server, so a
        subscriber restarted with the same name resumes after the last
        message whose handler returned. A message whose handler raised is
        delivered again after ``retry_delay`` seconds, before any later one.
        """
        _check_subject(subject)
        if _DURABLE.fullmatch(durable) is None:
            raise ValueError(
                f"invalid durable name {durable!r}: use letters, digits,"
                " '_', '-' or '='"
            )
        self._jetstream()
        name = consumer_name(durable, subject)
        if name in self._subscriptions:
            raise ValueError(f"{durable!r} is already subscribed to {subject}")
        subscription = _Subscription(subject, name, handler)
        try:
            await self._ensure_consumer(subscription)
        except (nats.js.errors.Error, nats.errors.Error) as error:
            raise NatsBusError(
                f"could not create or update the consumer {name} in stream"
                f" {self._stream} at {self._server}: {type(error).__name__}: {error}"
            ) from error
        pull = await self._jetstream().pull_subscribe_bind(name, stream=self._stream)
        subscription.pull = pull
        self._subscriptions[name] = subscription
        subscription.task = asyncio.create_task(
            self._consume(subscription, pull), name=f"bus {name}"
        )
        logger.info(
            "bus_subscribed subject=%s durable=%s stream=%s",
            subject,
            durable,
            self._stream,
        )

    async def close(self) -> None:
        """Stop the consumers, let running handlers finish, then drain and close.

        A handler still running after ``ack_wait`` seconds is cancelled and
        its message is delivered again to the next subscriber.
        """
        self._stopping.set()
        for subscription in list(self._subscriptions.values()):
            await self._stop(subscription)
            # A pull subscription has no callback, so draining would wait
            # for its leftover status messages until the drain timeout.
            if subscription.pull is not None:
                with contextlib.suppress(nats.errors.Error):
                    await subscription.pull.unsubscribe()
        self._subscriptions.clear()
        nc, self._nc, self._js = self._nc, None, None
        if nc is None or nc.is_closed:
            return
        try:
            await nc.drain()
        except (nats.errors.Error, TimeoutError) as error:
            logger.warning(
                "bus_drain_failed server=%s error=%s; closing", self._server, error
            )
            await nc.close()
        logger.info("bus_closed server=%s stream=%s", self._server, self._stream)

    async def _abandon(self, nc: Client) -> None:
        """Close a connection that ``start`` gives up on, without logging it."""
        self._stopping.set()
        with contextlib.suppress(Exception):
            await nc.close()

    def _jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("NatsJetStreamBus is not started; await start() first")
        return self._js

    async def _ensure_stream(self) -> None:
        js = self._jetstream()
        config = StreamConfig(
            name=self._stream,
            description="walkout messages between ingestion and fusion",
            subjects=[f"{SUBJECT_PREFIX}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=self._max_age,
        )
        try:
            # Creating a stream that exists with the same configuration
            # succeeds, so two processes may start at once.
            await js.add_stream(config)
            return
        except nats.js.errors.BadRequestError as error:
            if error.err_code != _STREAM_NAME_IN_USE:
                raise self._stream_error(error) from error
        try:
            await js.update_stream(config)
        except nats.js.errors.APIError as error:
            raise self._stream_error(error) from error

    def _stream_error(self, error: nats.js.errors.APIError) -> NatsBusError:
        return NatsBusError(
            f"could not create or update the stream {self._stream} on"
            f" {self._server}: {error.description} (JetStream error"
            f" {error.err_code}); another stream may already hold the subjects"
            f" {SUBJECT_PREFIX}.> or use other storage"
        )

    async def _ensure_consumer(self, subscription: _Subscription) -> None:
        config = ConsumerConfig(
            name=subscription.consumer,
            durable_name=subscription.consumer,
            description=f"walkout consumer of {subscription.subject}",
            filter_subject=subscription.subject,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self._ack_wait,
            max_deliver=-1,
            # With one unacknowledged message at a time, a message delivered
            # again blocks every later one, so the order is kept.
            max_ack_pending=1,
        )
        await self._jetstream().add_consumer(self._stream, config)

    async def _consume(
        self, subscription: _Subscription, pull: JetStreamContext.PullSubscription
    ) -> None:
        failures = 0
        idle_fetches = 0
        while not self._stopping.is_set():
            try:
                messages = await pull.fetch(1, timeout=_FETCH_SECONDS)
            except nats.errors.TimeoutError:
                # A fetch from a deleted consumer times out like an idle one.
                idle_fetches += 1
                if idle_fetches % _CONSUMER_CHECK_FETCHES == 0:
                    await self._check_consumer(subscription, pull)
                continue
            except nats.errors.ConnectionClosedError:
                return
            except nats.errors.Error as error:
                failures += 1
                if failures == 1 or failures % _ERROR_LOG_EVERY == 0:
                    logger.warning(
                        "bus_fetch_failed subject=%s consumer=%s failures=%d"
                        " error=%s: %s; recreating the consumer in %g s",
                        subscription.subject,
                        subscription.consumer,
                        failures,
                        type(error).__name__,
                        error,
                        _CONSUMER_RETRY_SECONDS,
                    )
                await asyncio.sleep(_CONSUMER_RETRY_SECONDS)
                await self._recreate_consumer(subscription)
                continue
            failures = 0
            idle_fetches = 0
            for message in messages:
                if self._stopping.is_set():
                    # Hand the message back at once for the next subscriber.
                    await message.nak()
                    continue
                try:
                    await self._handle(subscription, message)
                except nats.errors.ConnectionClosedError:
                    return

    async def _check_consumer(
        self, subscription: _Subscription, pull: JetStreamContext.PullSubscription
    ) -> None:
        try:
            await pull.consumer_info()
        except nats.js.errors.NotFoundError:
            logger.warning(
                "bus_consumer_missing subject=%s consumer=%s; creating it again",
                subscription.subject,
                subscription.consumer,
            )
            await self._recreate_consumer(subscription)
        except nats.errors.Error:
            # Disconnected or JetStream busy; the next check tries again.
            return

    async def _recreate_consumer(self, subscription: _Subscription) -> None:
        with contextlib.suppress(nats.js.errors.Error, nats.errors.Error):
            await self._ensure_stream()
            await self._ensure_consumer(subscription)

    async def _handle(self, subscription: _Subscription, message: Msg) -> None:
        subscription.handling = True
        keep_alive = asyncio.create_task(self._extend_ack_wait(message))
        try:
            await subscription.handler(Message(message.subject, message.data))
        except asyncio.CancelledError:
            with contextlib.suppress(nats.errors.Error):
                await message.nak()
            raise
        except Exception:
            metadata = message.metadata
            logger.exception(
                "bus_handler_failed subject=%s stream_seq=%d delivery=%d;"
                " delivering it again in %g s",
                subscription.subject,
                metadata.sequence.stream,
                metadata.num_delivered,
                self._retry_delay,
            )
            await self._settle(subscription, message, consumed=False)
            return
        finally:
            keep_alive.cancel()
            subscription.handling = False
        await self._settle(subscription, message, consumed=True)

    async def _settle(
        self, subscription: _Subscription, message: Msg, *, consumed: bool
    ) -> None:
        """Ack a consumed message, or nak one whose handler raised."""
        try:
            if consumed:
                await message.ack()
            else:
                await message.nak(delay=self._retry_delay)
        except nats.errors.ConnectionClosedError:
            raise
        except nats.errors.Error as error:
            # The server delivers the message again after ``ack_wait``.
            logger.warning(
                "bus_ack_failed subject=%s stream_seq=%d consumed=%s error=%s: %s",
                subscription.subject,
                message.metadata.sequence.stream,
                consumed,
                type(error).__name__,
                error,
            )

    async def _extend_ack_wait(self, message: Msg) -> None:
        """Send an in-progress ack every ``ack_wait / 3`` s while the handler runs."""
        with contextlib.suppress(nats.errors.Error):
            while True:
                await asyncio.sleep(self._ack_wait / 3)
                await message.in_progress()

    async def _stop(self, subscription: _Subscription) -> None:
        task = subscription.task
        if task is None or task.done():
            return
        # The loop checks ``_stopping`` after each fetch and each handler.
        limit = _FETCH_SECONDS + (self._ack_wait if subscription.handling else 0)
        done, _ = await asyncio.wait({task}, timeout=limit + 1.0)
        if not done:
            logger.warning(
                "bus_consumer_cancelled subject=%s consumer=%s after %g s",
                subscription.subject,
                subscription.consumer,
                limit + 1.0,
            )
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.cancelled() and task.exception() is not None:
            logger.error(
                "bus_consumer_failed subject=%s consumer=%s",
                subscription.subject,
                subscription.consumer,
                exc_info=task.exception(),
            )

    def _subjects(self) -> str:
        return ",".join(sorted(s.subject for s in self._subscriptions.values())) or "-"

    async def _on_error(self, error: Exception) -> None:
        self._errors_since_connect += 1
        count = self._errors_since_connect
        if count == 1 or count % _ERROR_LOG_EVERY == 0:
            logger.warning(
                "bus_connection_error server=%s subjects=%s errors=%d error=%s: %s",
                self._server,
                self._subjects(),
                count,
                type(error).__name__,
                error,
            )

    async def _on_disconnected(self) -> None:
        if not self._stopping.is_set():
            logger.warning(
                "bus_disconnected server=%s subjects=%s; reconnecting",
                self._server,
                self._subjects(),
            )

    async def _on_reconnected(self) -> None:
        self._errors_since_connect = 0
        logger.info(
            "bus_reconnected server=%s subjects=%s", self._server, self._subjects()
        )

    async def _on_closed(self) -> None:
        if not self._stopping.is_set():
            logger.error(
                "bus_connection_closed server=%s subjects=%s",
                self._server,
                self._subjects(),
            )
