"""``walkout serve --only`` and the choice of bus from the settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from walkout.cli import app
from walkout.live.bus import InProcessBus, build_bus
from walkout.service.settings import Settings


def test_fusion_alone_needs_nats(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["serve", "--only", "fusion", "--no-migrate"],
        env={
            "WALKOUT_DATA_DIR": str(tmp_path),
            "WALKOUT_BUS_URL": "",
        },
    )

    assert result.exit_code == 2
    assert "WALKOUT_BUS_URL=nats://" in result.output


def test_unreachable_nats_fails_in_one_line(tmp_path: Path) -> None:
    # Port 9 (discard) has no NATS server, so the connection is refused.
    result = CliRunner().invoke(
        app,
        ["serve", "--only", "fusion"],
        env={
            "WALKOUT_DATA_DIR": str(tmp_path),
            "WALKOUT_BUS_URL": "nats://127.0.0.1:9",
        },
    )

    assert result.exit_code == 2
    assert "could not connect to the NATS server" in result.output
    assert "Traceback" not in result.output


def test_in_process_bus_by_default() -> None:
    assert isinstance(build_bus(Settings(bus_url="")), InProcessBus)


def test_nats_url_builds_jetstream_bus() -> None:
    from walkout.live.nats_bus import NatsJetStreamBus

    bus = build_bus(Settings(bus_url="nats://127.0.0.1:4222"))

    assert isinstance(bus, NatsJetStreamBus)


def test_other_bus_url_rejected() -> None:
    with pytest.raises(ValidationError, match="bus_url"):
        Settings(bus_url="redis://127.0.0.1:6379")
