"""HTTP, server-sent event and WebSocket clients of the store service on loopback."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from walkout.recording.model import GateEvent

PASSWORD = "correct-horse-battery-e2e"


class ApiError(AssertionError):
    """A response with another status than the one the call expects."""


def _expect(response: httpx.Response, status: int) -> Any:
    if response.status_code != status:
        raise ApiError(
            f"{response.request.method} {response.request.url.path} returned "
            f"{response.status_code}, expected {status}: {response.text[:2000]}"
        )
    return response.json() if response.content else None


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class StoreApi:
    """The calls of the app, the gate and the sensor gateway."""

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=timeout_s, trust_env=False)

    def close(self) -> None:
        self.http.close()

    def log_in(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.http.post(
            "/auth/token", data={"username": email, "password": password}
        )
        return bearer(_expect(response, 200)["access_token"])

    def sign_up(self, email: str) -> dict[str, str]:
        response = self.http.post(
            "/auth/signup", json={"email": email, "password": PASSWORD}
        )
        _expect(response, 201)
        return self.log_in(email)

    def add_card(self, headers: dict[str, str], token: str = "tok_visa") -> Any:
        response = self.http.put(
            "/accounts/me/card", json={"token": token}, headers=headers
        )
        return _expect(response, 200)

    def me(self, headers: dict[str, str]) -> Any:
        return _expect(self.http.get("/accounts/me", headers=headers), 200)

    def add_staff(
        self, admin: dict[str, str], store_id: str, email: str
    ) -> dict[str, str]:
        """Sign up a staff account of ``store_id`` and return its headers."""
        headers = self.sign_up(email)
        account_id = self.me(headers)["id"]
        response = self.http.patch(
            f"/accounts/{account_id}", json={"role": "staff"}, headers=admin
        )
        _expect(response, 200)
        response = self.http.put(
            f"/stores/{store_id}/staff/{account_id}", headers=admin
        )
        _expect(response, 204)
        return self.log_in(email)

    def entry_pass(
        self, shopper: dict[str, str], store_id: str, party_size: int
    ) -> Any:
        response = self.http.post(
            f"/stores/{store_id}/passes",
            json={"party_size": party_size},
            headers=shopper,
        )
        return _expect(response, 201)

    def enter(
        self,
        gate: dict[str, str],
        store_id: str,
        token: str,
        tracks: list[str],
        t: float,
    ) -> Any:
        response = self.http.post(
            f"/stores/{store_id}/gate/entries",
            json={"pass_token": token, "track_ids": tracks, "t": t},
            headers=gate,
        )
        return _expect(response, 201)

    def exit(self, gate: dict[str, str], store_id: str, event: GateEvent) -> Any:
        response = self.http.post(
            f"/stores/{store_id}/gate/exits",
            json={"track_id": event.track, "t": event.t},
            headers=gate,
        )
        return _expect(response, 200)

    def send_batch(
        self,
        gate: dict[str, str],
        store_id: str,
        batch_id: str,
        payload: dict[str, Any],
    ) -> Any:
        response = self.http.post(
            f"/stores/{store_id}/sensors/batches",
            json={"batch_id": batch_id, **payload},
            headers=gate,
        )
        return _expect(response, 201)

    def get(self, path: str, headers: dict[str, str]) -> Any:
        return _expect(self.http.get(path, headers=headers), 200)


@dataclass
class VisitEvents:
    """A thread that reads a visit's server-sent events until the stream ends.

    ``events`` contains ``(name, data, time.monotonic())`` per event, and
    ``receipt_at`` the monotonic time the ``receipt`` event arrived.
    """

    base_url: str
    visit_id: str
    headers: dict[str, str]
    events: list[tuple[str, Any, float]] = field(default_factory=list)
    status_code: int | None = None
    error: BaseException | None = None
    receipt_at: float | None = None
    opened: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)

    def start(self) -> VisitEvents:
        threading.Thread(
            target=self._read, name=f"events-{self.visit_id[:8]}", daemon=True
        ).start()
        return self

    def _read(self) -> None:
        name = ""
        try:
            # No read timeout: the server sends a keep-alive comment when idle.
            timeout = httpx.Timeout(10.0, read=None)
            with (
                httpx.Client(
                    base_url=self.base_url, timeout=timeout, trust_env=False
                ) as client,
                client.stream(
                    "GET", f"/visits/{self.visit_id}/events", headers=self.headers
                ) as response,
            ):
                self.status_code = response.status_code
                self.opened.set()
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        name = line.removeprefix("event: ")
                    elif line.startswith("data: "):
                        now = time.monotonic()
                        data = json.loads(line.removeprefix("data: "))
                        self.events.append((name, data, now))
                        if name == "receipt":
                            self.receipt_at = now
        except BaseException as error:
            # The caller sees it in receipt().
            self.error = error
        finally:
            self.opened.set()
            self.done.set()

    def receipt(self, timeout_s: float) -> Any:
        """Wait for the stream to end and return the ``receipt`` event's data."""
        if not self.done.wait(timeout_s):
            statuses = [data for name, data, _ in self.events if name == "status"]
            raise TimeoutError(
                f"no receipt event for visit {self.visit_id} within {timeout_s:g} s; "
                f"status events so far: {statuses}"
            )
        if self.error is not None:
            raise self.error
        receipts = [data for name, data, _ in self.events if name == "receipt"]
        if not receipts:
            raise AssertionError(
                f"the event stream of visit {self.visit_id} ended without a receipt: "
                f"{[(name, data) for name, data, _ in self.events]}"
            )
        return receipts[-1]

    def statuses(self) -> list[str]:
        return [
            str(data["status"]) for name, data, _ in self.events if name == "status"
        ]


# A minimal RFC 6455 client: text frames only, with the client masking that
# the protocol requires.

_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


class WebSocketError(Exception):
    """A failed handshake, a protocol error or a close frame from the server."""


class WebSocket:
    """A blocking WebSocket connection to a service on 127.0.0.1."""

    def __init__(
        self, port: int, path: str, headers: dict[str, str], timeout_s: float = 60.0
    ) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
        self._buffer = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        head = self._read_until(b"\r\n\r\n").decode(errors="replace")
        status_line, *header_lines = head.split("\r\n")
        if " 101 " not in f"{status_line} ":
            self.sock.close()
            raise WebSocketError(f"handshake for {path} failed: {status_line}")
        accept = hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()
        expected = base64.b64encode(accept).decode()
        received = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        if received.get("sec-websocket-accept") != expected:
            self.sock.close()
            raise WebSocketError(f"handshake for {path}: wrong Sec-WebSocket-Accept")

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketError("the server closed the connection")
            self._buffer += chunk
        head, _, self._buffer = self._buffer.partition(marker)
        return head

    def _read_exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            chunk = self.sock.recv(max(65536, size - len(self._buffer)))
            if not chunk:
                raise WebSocketError("the server closed the connection")
            self._buffer += chunk
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | size)
        elif size < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, size)
        mask = os.urandom(4)
        repeated = (mask * (size // 4 + 1))[:size]
        masked = int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")
        self.sock.sendall(header + mask + masked.to_bytes(size, "big"))

    def send_text(self, text: str) -> None:
        self._send_frame(_TEXT, text.encode())

    def receive_text(self) -> str:
        """Return the next text message, replying to pings; raise on a close frame."""
        parts: list[bytes] = []
        while True:
            first, second = self._read_exact(2)
            opcode, final = first & 0x0F, bool(first & 0x80)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack("!H", self._read_exact(2))
            elif size == 127:
                (size,) = struct.unpack("!Q", self._read_exact(8))
            mask = self._read_exact(4) if second & 0x80 else b""
            payload = self._read_exact(size)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == _PING:
                self._send_frame(_PONG, payload)
                continue
            if opcode == _CLOSE:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 0
                raise WebSocketError(
                    f"the server closed the stream: {code} {payload[2:].decode()}"
                )
            parts.append(payload)
            if final:
                return b"".join(parts).decode()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._send_frame(_CLOSE, struct.pack("!H", 1000))
        self.sock.close()
