"""Whole path: recording in, receipts out, scored against the truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkout.cli import app
from walkout.eval.scoring import score_recording
from walkout.fusion import replay
from walkout.recording import read_receipts, read_recording

FIJI_WATER = "632565000012"
TACO_BELL_FIRE = "071063437089"


@pytest.fixture(scope="module")
def nanostore_recording(
    nanostore_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    from walkout.importers.autocheckout import import_autocheckout

    out = tmp_path_factory.mktemp("cps-test-01")
    import_autocheckout(nanostore_dir / "cps-test-01", out)
    return out


def test_nanostore_receipt_is_exact(nanostore_recording: Path) -> None:
    recording = read_recording(nanostore_recording)

    result = replay(recording)

    [receipt] = result.receipts
    bought = {line.sku: line.qty for line in receipt.items}
    assert bought == {TACO_BELL_FIRE: 1, FIJI_WATER: 1}
    assert recording.truth is not None
    assert score_recording(recording.truth, result.receipts).f1 == 1.0


def test_nanostore_cli_scores_one(nanostore_recording: Path, tmp_path: Path) -> None:
    receipts = tmp_path / "receipts.json"
    runner = CliRunner()

    replayed = runner.invoke(
        app, ["replay", str(nanostore_recording), "--out", str(receipts)]
    )
    evaluated = runner.invoke(
        app, ["evaluate", str(nanostore_recording), str(receipts)]
    )

    assert replayed.exit_code == 0, replayed.output
    assert evaluated.exit_code == 0, evaluated.output
    assert "f1=1.0000" in evaluated.stdout
    assert len(read_receipts(receipts)) == 1


@pytest.mark.parametrize("scenario", ["single", "multi", "group", "putback"])
@pytest.mark.parametrize("seed", [11, 12])
def test_simulated_receipts_match_truth(scenario: str, seed: int) -> None:
    from walkout.sim import builtin_store, simulate

    recording = simulate(builtin_store(), scenario, seed)

    result = replay(recording)

    assert recording.truth is not None
    score = score_recording(recording.truth, result.receipts)
    wrong = [diff for diff in score.accounts if not diff.exact]
    assert wrong == []


@pytest.mark.parametrize(
    ("scenario", "seed"), [("mixed", 1), ("mixed", 2), ("demo", 1)]
)
def test_busy_session_receipts_match_truth(scenario: str, seed: int) -> None:
    from walkout.sim import builtin_store, simulate

    recording = simulate(builtin_store(), scenario, seed)

    result = replay(recording)

    assert recording.truth is not None
    score = score_recording(recording.truth, result.receipts)
    assert [diff for diff in score.accounts if not diff.exact] == []
    assert not any(receipt.needs_review for receipt in result.receipts)


def test_cli_simulate_replay_evaluate(tmp_path: Path) -> None:
    recording = tmp_path / "rec"
    receipts = tmp_path / "receipts.json"
    runner = CliRunner()

    simulated = runner.invoke(
        app, ["simulate", str(recording), "--scenario", "multi", "--seed", "3"]
    )
    replayed = runner.invoke(app, ["replay", str(recording), "--out", str(receipts)])
    evaluated = runner.invoke(app, ["evaluate", str(recording), str(receipts)])

    assert simulated.exit_code == 0, simulated.output
    assert replayed.exit_code == 0, replayed.output
    assert evaluated.exit_code == 0, evaluated.output
    assert "f1=1.0000" in evaluated.stdout


def test_cli_plot_writes_png(nanostore_recording: Path, tmp_path: Path) -> None:
    out = tmp_path / "trace.png"

    result = CliRunner().invoke(
        app,
        ["plot", str(nanostore_recording), "--plate", "1.5.10", "--out", str(out)],
    )

    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_plot_unknown_plate(nanostore_recording: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "plot",
            str(nanostore_recording),
            "--plate",
            "9.9.99",
            "--out",
            str(tmp_path / "x.png"),
        ],
    )

    assert result.exit_code == 2
    assert "9.9.99" in result.stderr
