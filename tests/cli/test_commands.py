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
