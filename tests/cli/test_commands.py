"""Commands on a small simulated recording."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkout.cli import app


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "rec"
    result = CliRunner().invoke(
        app, ["simulate", str(out), "--scenario", "single", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    return out


def test_noise_prints_statistics(simulated: Path) -> None:
    result = CliRunner().invoke(app, ["noise", str(simulated)])

    assert result.exit_code == 0, result.output
    assert "white noise sd (g)" in result.stdout
    assert "per plate-minute" in result.stdout


def test_simulate_unknown_scenario(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", str(tmp_path / "x"), "--scenario", "nope"]
    )

    assert result.exit_code == 2
    assert "nope" in result.stderr
    assert not (tmp_path / "x").exists()


def test_evaluate_without_truth(simulated: Path, tmp_path: Path) -> None:
    receipts = tmp_path / "receipts.json"
    runner = CliRunner()
    assert (
        runner.invoke(app, ["replay", str(simulated), "-o", str(receipts)]).exit_code
        == 0
    )
    (simulated / "truth.json").rename(tmp_path / "truth.json")
    try:
        result = runner.invoke(app, ["evaluate", str(simulated), str(receipts)])
    finally:
        (tmp_path / "truth.json").rename(simulated / "truth.json")

    assert result.exit_code == 2
    assert "truth.json" in result.stderr


def test_bench_accuracy_one_scenario() -> None:
    result = CliRunner().invoke(
        app,
        ["bench", "accuracy", "--seeds", "2", "--scenario", "single", "--workers", "1"],
    )

    assert result.exit_code == 0, result.output
    assert "overall" in result.stdout


def test_replay_output_is_folder(simulated: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["replay", str(simulated), "-o", str(tmp_path)])

    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "is a folder" in lines[0]


def test_plot_rejects_unknown_format(simulated: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.txt"
    result = CliRunner().invoke(
        app, ["plot", str(simulated), "--plate", "1.1.1", "--out", str(out)]
    )

    assert result.exit_code == 2
    assert ".txt" in result.stderr
    assert not out.exists()


def test_simulate_refuses_existing_recording(simulated: Path) -> None:
    result = CliRunner().invoke(
        app, ["simulate", str(simulated), "--scenario", "single", "--seed", "5"]
    )

    assert result.exit_code == 2
    assert "--force" in result.stderr


def test_simulate_force_drops_old_receipts(tmp_path: Path) -> None:
    out = tmp_path / "rec"
    runner = CliRunner()
    runner.invoke(app, ["simulate", str(out), "--seed", "1"])
    runner.invoke(app, ["replay", str(out), "-o", str(out / "receipts.json")])

    result = runner.invoke(app, ["simulate", str(out), "--seed", "2", "--force"])

    assert result.exit_code == 0, result.output
    assert not (out / "receipts.json").exists()


def test_simulate_lists_scenarios() -> None:
    result = CliRunner().invoke(app, ["simulate", "unused", "--scenario", "list"])

    assert result.exit_code == 0
    assert "misplaced" in result.stdout
    assert not Path("unused").exists()


def test_evaluate_rejects_unknown_sku(simulated: Path, tmp_path: Path) -> None:
    receipts = tmp_path / "receipts.json"
    receipts.write_text(
        '{"format": "walkout-receipts/1", "receipts": [{"account": "acct-1", '
        '"items": [{"sku": "no-such-sku", "qty": 1, "unit_price": "1.00", '
        '"confidence": 0.9}]}]}'
    )

    result = CliRunner().invoke(app, ["evaluate", str(simulated), str(receipts)])

    assert result.exit_code == 2
    assert "no-such-sku" in result.stderr
