"""``walkout serve`` as a child process on 127.0.0.1, for restart and split tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from live_fakes import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD

SECRET = "restart-test-secret-key-with-enough-length-01"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Service:
    """``walkout serve`` as a child process on 127.0.0.1."""

    def __init__(
        self,
        tmp_path: Path,
        store_dir: Path,
        *,
        name: str = "serve",
        options: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.port = free_port()
        self.database = tmp_path / "live.db"
        self.log = tmp_path / f"{name}.log"
        self.store_dir = store_dir
        self.options = options
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "WALKOUT_ENVIRONMENT": "test",
            "WALKOUT_SECRET_KEY": SECRET,
            "WALKOUT_DATABASE_URL": f"sqlite+pysqlite:///{self.database}",
            "WALKOUT_PAYMENT_PROVIDER": "ledger",
            "WALKOUT_FIRST_ADMIN_EMAIL": LIVE_ADMIN_EMAIL,
            "WALKOUT_FIRST_ADMIN_PASSWORD": LIVE_ADMIN_PASSWORD,
        }
        env.pop("WALKOUT_BUS_URL", None)
        env.update(self.extra_env)
        walkout = Path(sys.executable).parent / "walkout"
        command = [
            str(walkout),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--store",
            str(self.store_dir),
            "--log-level",
            "info",
            *self.options,
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
        if "fusion" in self.options:
            self._wait_for_log("fusion_started")
            return
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"walkout serve exited: {self.log.read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"walkout serve did not start: {self.log.read_text()}")

    def _wait_for_log(self, text: str) -> None:
        assert self.process is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"walkout serve exited: {self.log.read_text()[-3000:]}"
                )
            if text in self.log.read_text():
                return
            time.sleep(0.2)
        raise AssertionError(f"{text} not logged: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
            self.process = None
