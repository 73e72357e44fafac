"""The API and fusion in separate processes, joined by NATS JetStream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_drive import drive, shoppers_for, wait_for_status
from live_fakes import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD, log_in
from live_process import Service
from live_streams import pad_weights, receipt_items

from natsd import NatsServer, nats_server
from walkout.fusion.engine import replay
from walkout.recording import write_recording
from walkout.sim import builtin_store, simulate

__all__ = ["nats_server"]


@pytest.fixture
def split_services(
    tmp_path: Path, nats_server: NatsServer
) -> Iterator[tuple[Service, Service, Any]]:
    recording = pad_weights(simulate(builtin_store(), "putback", 1), 15.0)
    store_dir = tmp_path / "recording"
    write_recording(recording, store_dir)
    env = {"WALKOUT_BUS_URL": nats_server.url}
    api = Service(tmp_path, store_dir, name="api", options=("--only", "api"), env=env)
    fusion = Service(
        tmp_path,
        store_dir,
        name="fusion",
        options=("--only", "fusion", "--no-migrate"),
        env=env,
    )
    try:
        yield api, fusion, recording
    finally:
        fusion.stop()
        api.stop()


def test_fusion_process_settles_api_visits(
    split_services: tuple[Service, Service, Any],
) -> None:
    api, fusion, recording = split_services
    api.start()
    fusion.start()

    with httpx.Client(base_url=api.url, timeout=30) as client:
        admin = log_in(client, LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD)
        shoppers = shoppers_for(client, recording, "split")
        visits = drive(client, recording.store.info.id, admin, recording, shoppers)
        wait_for_status(client, list(visits.values()), admin, {"settled"})
        receipts = {
            account: client.get("/receipts", headers=headers).json()
            for account, headers in shoppers.items()
        }

    expected = {
        receipt.account: receipt_items(receipt.items)
        for receipt in replay(recording).receipts
    }
    for account, listed in receipts.items():
        assert len(listed) == 1
        lines = sorted((line["sku"], line["qty"]) for line in listed[0]["lines"])
        assert lines == expected[account]
    assert "fusion worker started" in fusion.log.read_text()
