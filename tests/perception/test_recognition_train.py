"""``walkout vision train`` runs end to end on four images in a few seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkout.cli_vision import vision_app

pytest.importorskip("torch", reason="the perception extra is not installed")
pytest.importorskip("onnxruntime", reason="the perception extra is not installed")

REPO_ROOT = Path(__file__).resolve().parents[2]
GROCERY_STORE = REPO_ROOT.parent / "shared" / "data" / "grocery-store"


def test_train_one_step_exports_model(tmp_path: Path) -> None:
    if not (GROCERY_STORE / "dataset" / "train.txt").is_file():
        pytest.skip(f"Grocery Store Dataset not found at {GROCERY_STORE}")
    out = tmp_path / "models"

    result = CliRunner().invoke(
        vision_app,
        [
            "train",
            "--data",
            str(GROCERY_STORE),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--backbone",
            "lite0",
            "--image-size",
            "64",
            "--max-images",
            "4",
            "--max-steps",
            "1",
        ],
    )

    assert result.exit_code == 0, result.output
    assert "epoch 1/1" in result.stdout
    # One line per candidate: 4 sizes (64 plus the 3 defaults) x 2 crops x 2.
    assert result.stdout.count("val at ") == 16
    model = out / "grocery-efficientnet-lite0.onnx"
    labels = out / "grocery-efficientnet-lite0.labels.json"
    assert model.is_file()
    assert len(json.loads(labels.read_text())["fine"]) == 81

    from walkout.perception.recognition import Recogniser

    recogniser = Recogniser(model, threads=1)
    assert recogniser.preprocessing.size in (64, 224, 256, 288)


def test_train_missing_data(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        vision_app, ["train", "--data", str(tmp_path), "--out", str(tmp_path / "m")]
    )

    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "train.txt not found" in errors[0]
