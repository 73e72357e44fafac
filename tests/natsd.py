"""A throwaway nats-server with JetStream for tests.

The server listens on a free port of 127.0.0.1 only, with no monitoring port
and no cluster, and keeps its JetStream files in a temporary folder. It can
be stopped and started again on the same port and folder, which is how the
tests restart it.

Import the fixture into a conftest.py (``from natsd import nats_server``) and
list it in the module's ``__all__``, or import it into the test module. Tests
that use it are skipped when nats-server is missing and the tests do not run
as root. As root they fail instead, because ``scripts/system-packages.sh``
(run by ``make test``) installs Debian's ``nats-server`` package.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Debian's nats-server package installs the binary here, which is not on
# every user's PATH.
DEBIAN_NATS_SERVER = Path("/usr/sbin/nats-server")

_READY_LINE = "Server is ready"
_START_SECONDS = 15.0
_STOP_SECONDS = 15.0


def find_nats_server() -> Path | None:
    """Return the nats-server binary on PATH or in /usr/sbin, if installed."""
    on_path = shutil.which("nats-server")
    if on_path is not None:
        return Path(on_path)
    if DEBIAN_NATS_SERVER.exists():
        return DEBIAN_NATS_SERVER
    return None


def require_nats_server() -> Path:
    """Return the nats-server binary, or skip (not root) or fail (root) without it."""
    binary = find_nats_server()
    if binary is not None:
        return binary
    if os.geteuid() != 0:
        pytest.skip(
            "nats-server not found on PATH or at"
            f" {DEBIAN_NATS_SERVER}, and not root to install it; run"
            " scripts/system-packages.sh as root or install Debian's"
            " nats-server package"
        )
    pytest.fail(
        "nats-server not found on PATH or at"
        f" {DEBIAN_NATS_SERVER}; run scripts/system-packages.sh"
        " (make test runs it) to install Debian's nats-server package"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NatsServer:
    """One nats-server process on 127.0.0.1, started and stopped by pid."""

    def __init__(self, binary: Path, root: Path, *, jetstream: bool = True) -> None:
        self.binary = binary
        self.root = root
        self.store_dir = root / "jetstream"
        self.jetstream = jetstream
        self.port = free_port()
        self.log = root / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait until its log reports that it is ready."""
        if self.process is not None:
            raise RuntimeError(f"nats-server already runs with pid {self.process.pid}")
        command = [str(self.binary), "-a", "127.0.0.1", "-p", str(self.port)]
        if self.jetstream:
            command += ["-js", "-sd", str(self.store_dir)]
        # Each start gets a fresh log, so the ready line is this start's.
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + _START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"nats-server exited with {self.process.returncode}:"
                    f" {' '.join(command)}\n{self.log_tail()}"
                )
            if _READY_LINE in self.log.read_text(errors="replace"):
                return
            time.sleep(0.05)
        self.stop()
        pytest.fail(
            f"nats-server not ready after {_START_SECONDS:g} s:"
            f" {' '.join(command)}\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server with SIGTERM (SIGKILL after a timeout) by its pid."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=_STOP_SECONDS)

    def restart(self) -> None:
        """Stop the server and start it again on the same port and store folder."""
        self.stop()
        self.start()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""


def start_nats_server(*, jetstream: bool = True) -> NatsServer:
    """Start a server in a new temporary folder, which the caller must stop."""
    binary = require_nats_server()
    root = Path(tempfile.mkdtemp(prefix="walkout-nats-"))
    server = NatsServer(binary, root, jetstream=jetstream)
    server.start()
    return server


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    """Start a JetStream server for one test, then stop it and delete its files."""
    server = start_nats_server()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)
