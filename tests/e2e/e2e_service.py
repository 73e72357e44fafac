"""``walkout serve`` as a subprocess on 127.0.0.1, started and stopped by its pid."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

# The console script installed beside the interpreter that runs the tests.
WALKOUT = Path(sys.executable).with_name("walkout")

ADMIN_EMAIL = "e2e-admin@example.com"
ADMIN_PASSWORD = "e2e-admin-password-1"

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0

# Variables of the caller's environment that could send the service's own
# requests (to the fake Stripe) through a proxy.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_environment(
    data_dir: Path, database_url: str, **settings: str
) -> dict[str, str]:
    """Return the environment of a service process: test settings, loopback only.

    ``settings`` are extra ``WALKOUT_*`` variables, given without the prefix
    and in lower case (``bus_url="nats://..."``).
    """
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("WALKOUT_") and name.lower() not in _PROXY_VARIABLES
    }
    environment.update(
        {
            "WALKOUT_ENVIRONMENT": "test",
            "WALKOUT_DATA_DIR": str(data_dir),
            "WALKOUT_DATABASE_URL": database_url,
            "WALKOUT_SECRET_KEY": secrets.token_urlsafe(48),
            "WALKOUT_FIRST_ADMIN_EMAIL": ADMIN_EMAIL,
            "WALKOUT_FIRST_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "NO_PROXY": "127.0.0.1,localhost",
        }
    )
    for name, value in settings.items():
        environment[f"WALKOUT_{name.upper()}"] = value
    return environment


class ServiceProcess:
    """One ``walkout serve`` process; ``log`` collects its output."""

    def __init__(
        self,
        arguments: list[str],
        environment: Mapping[str, str],
        log: Path,
        *,
        port: int | None = None,
    ) -> None:
        self.port = port
        self.log = log
        # -v logs the service's INFO lines (fusion_started, settling).
        self.command = [str(WALKOUT), "-v", "serve", *arguments]
        with log.open("wb") as sink:
            self.process = subprocess.Popen(
                self.command,
                env=dict(environment),
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=log.parent,
            )

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("this process serves no HTTP port")
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, characters: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-characters:]

    def _check_running(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise RuntimeError(
                f"{' '.join(self.command)} exited with {code}:\n{self.log_tail()}"
            )

    def wait_healthy(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until ``GET /health`` returns 200."""
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.base_url, trust_env=False) as client:
            while time.monotonic() < deadline:
                self._check_running()
                try:
                    if client.get("/health", timeout=2.0).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"{' '.join(self.command)} not healthy after {timeout_s:g} s:\n"
            f"{self.log_tail()}"
        )

    def wait_for_log(self, text: str, timeout_s: float = START_TIMEOUT_S) -> None:
        """Wait until the process has written ``text`` to its log."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_running()
            if text in self.log.read_text(errors="replace"):
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(
            f"{' '.join(self.command)} did not log {text!r} in {timeout_s:g} s:\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        """Stop the process with SIGTERM, and SIGKILL after a timeout."""
        if self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=STOP_TIMEOUT_S)
