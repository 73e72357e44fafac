"""Each kind of malformed recording stops the command with one line and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkout.cli import app

STORE = {
    "format": "walkout-recording/1",
    "store": {"id": "tiny", "name": "Tiny", "currency": "EUR"},
    "products": [
        {"sku": "cola", "name": "Cola 330 ml", "price": "1.20", "unit_weight_g": 350.0}
    ],
    "plates": [
        {
            "id": "1.1.1",
            "gondola": 1,
            "shelf": 1,
            "plate": 1,
            "center": [1.0, 1.0, 1.2],
            "size": [0.1016, 0.4064],
        }
    ],
    "planogram": [{"sku": "cola", "plates": ["1.1.1"], "qty": 6}],
}
WEIGHTS = "t,plate,g\n0.000,1.1.1,2100.0\n0.016,1.1.1,2100.5\n0.033,1.1.1,2099.8\n"


def _write(root: Path, store: dict[str, object], weights: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "store.json").write_text(json.dumps(store, indent=2))
    (root / "weights.csv").write_text(weights)
    return root


def _without(root: Path, name: str) -> Path:
    (root / name).unlink()
    return root


def _store_with(**changes: object) -> dict[str, object]:
    return {**STORE, **changes}


Case = Callable[[Path], Path]

CASES: list[tuple[str, Case, list[str]]] = [
    (
        "missing-directory",
        lambda tmp: tmp / "nowhere",
        ["nowhere"],
    ),
    (
        "missing-weights",
        lambda tmp: _without(_write(tmp / "r", STORE, WEIGHTS), "weights.csv"),
        ["weights.csv"],
    ),
    (
        "bad-header",
        lambda tmp: _write(tmp / "r", STORE, WEIGHTS.replace("t,plate,g", "t,plate,w")),
        ["weights.csv", "t,plate,g"],
    ),
    (
        "non-numeric",
        lambda tmp: _write(tmp / "r", STORE, WEIGHTS.replace("2100.5", "21OO.5")),
        ["weights.csv:3", "21OO.5"],
    ),
    (
        "unknown-plate",
        lambda tmp: _write(
            tmp / "r", STORE, WEIGHTS.replace("0.033,1.1.1", "0.033,9.9.9")
        ),
        ["weights.csv:4", "9.9.9"],
    ),
    (
        "unknown-sku",
        lambda tmp: _write(
            tmp / "r",
            _store_with(planogram=[{"sku": "fanta", "plates": ["1.1.1"]}]),
            WEIGHTS,
        ),
        ["store.json", "fanta"],
    ),
    (
        "time-backwards",
        lambda tmp: _write(tmp / "r", STORE, WEIGHTS.replace("0.033,", "0.010,")),
        ["weights.csv:4", "1.1.1"],
    ),
    (
        "empty-store",
        lambda tmp: _write(tmp / "r", _store_with(plates=[], planogram=[]), WEIGHTS),
        ["store.json", "plates"],
    ),
]


@pytest.mark.parametrize(
    ("make", "expected"),
    [pytest.param(make, expected, id=label) for label, make, expected in CASES],
)
def test_replay_bad_recording(tmp_path: Path, make: Case, expected: list[str]) -> None:
    recording = make(tmp_path)

    result = CliRunner().invoke(
        app, ["replay", str(recording), "--out", str(tmp_path / "receipts.json")]
    )

    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in expected:
        assert fragment in lines[0]
    assert not (tmp_path / "receipts.json").exists()
