"""``walkout vision eval``: accuracy on a list, one-line errors on bad input."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from walkout.cli_vision import vision_app

pytest.importorskip("onnxruntime", reason="the perception extra is not installed")

REPO_ROOT = Path(__file__).resolve().parents[2]
GROCERY_STORE = REPO_ROOT.parent / "shared" / "data" / "grocery-store" / "dataset"
TOP1_LINE = re.compile(r"^top1_fine=(\d\.\d{4}) top1_coarse=(\d\.\d{4})$")


@pytest.fixture(scope="module")
def grocery_store() -> Path:
    if not (GROCERY_STORE / "val.txt").is_file():
        pytest.skip(f"Grocery Store Dataset not found at {GROCERY_STORE}")
    return GROCERY_STORE


def _val_lines(grocery_store: Path, count: int) -> list[str]:
    lines = (grocery_store / "val.txt").read_text().splitlines()
    step = len(lines) // count
    return lines[::step][:count]


def test_eval_prints_top1_line_last(grocery_store: Path, tmp_path: Path) -> None:
    image_list = tmp_path / "val20.txt"
    image_list.write_text("\n".join(_val_lines(grocery_store, 20)) + "\n")

    result = CliRunner().invoke(
        vision_app, ["eval", str(image_list), str(grocery_store), "--threads", "2"]
    )

    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    match = TOP1_LINE.match(last)
    assert match, last
    fine, coarse = float(match.group(1)), float(match.group(2))
    assert fine >= 0.7
    assert coarse >= fine


@pytest.mark.parametrize(
    ("bad_line", "expected"),
    [
        pytest.param(
            "val/no-comma.jpg 3 1", ["val5.txt:3", "expected"], id="no-commas"
        ),
        pytest.param("val/x.jpg, three, 1", ["val5.txt:3", "integers"], id="text-id"),
        pytest.param(
            "val/missing.jpg, 3, 1", ["val5.txt:3", "not found"], id="missing"
        ),
    ],
)
def test_eval_bad_list_line(
    grocery_store: Path, tmp_path: Path, bad_line: str, expected: list[str]
) -> None:
    lines = _val_lines(grocery_store, 5)
    lines[2] = bad_line
    image_list = tmp_path / "val5.txt"
    image_list.write_text("\n".join(lines) + "\n")

    result = CliRunner().invoke(
        vision_app, ["eval", str(image_list), str(grocery_store)]
    )

    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in expected:
        assert fragment in errors[0]


def test_eval_missing_model(tmp_path: Path) -> None:
    image_list = tmp_path / "list.txt"
    image_list.write_text("a.jpg, 0, 0\n")

    result = CliRunner().invoke(
        vision_app,
        ["eval", str(image_list), str(tmp_path), "--model", str(tmp_path / "m.onnx")],
    )

    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    assert "model not found" in errors[0]


def test_calibrate_writes_fitted_temperature(
    grocery_store: Path, tmp_path: Path
) -> None:
    from walkout.perception.recognition import DEFAULT_MODEL_PATH, LabelsFile
    from walkout.perception.recognition.labels import labels_path_for

    model = tmp_path / DEFAULT_MODEL_PATH.name
    shutil.copyfile(DEFAULT_MODEL_PATH, model)
    labels = labels_path_for(model)
    committed = LabelsFile.read(labels_path_for(DEFAULT_MODEL_PATH))
    # Start from an uncalibrated copy, so the fit has something to change.
    replace(committed, temperature=1.0).write(labels)
    image_list = tmp_path / "val40.txt"
    image_list.write_text("\n".join(_val_lines(grocery_store, 40)) + "\n")

    result = CliRunner().invoke(
        vision_app,
        ["calibrate", str(image_list), str(grocery_store), "--model", str(model)],
    )

    assert result.exit_code == 0, result.output
    calibrated = LabelsFile.read(labels)
    assert calibrated.temperature != 1.0
    assert calibrated.classes == committed.classes
    assert calibrated.preprocessing == committed.preprocessing
    gaps = re.search(r"\(ECE, 10 bins\)\s+(\d\.\d+) -> (\d\.\d+)", result.stdout)
    assert gaps, result.stdout
    assert float(gaps.group(2)) < float(gaps.group(1))


def test_calibrate_empty_list(grocery_store: Path, tmp_path: Path) -> None:
    image_list = tmp_path / "empty.txt"
    image_list.write_text("")

    result = CliRunner().invoke(
        vision_app, ["calibrate", str(image_list), str(grocery_store)]
    )

    assert result.exit_code == 2
    assert "the image list is empty" in result.stderr


def test_calibrate_needs_enough_images(grocery_store: Path, tmp_path: Path) -> None:
    image_list = tmp_path / "val3.txt"
    image_list.write_text("\n".join(_val_lines(grocery_store, 3)) + "\n")

    result = CliRunner().invoke(
        vision_app, ["calibrate", str(image_list), str(grocery_store)]
    )

    assert result.exit_code == 2
    assert "needs at least 20" in result.stderr


def test_eval_rejects_wrong_coarse_id(grocery_store: Path, tmp_path: Path) -> None:
    path, fine_id, coarse_id = (
        field.strip() for field in _val_lines(grocery_store, 1)[0].split(",")
    )
    image_list = tmp_path / "wrong-coarse.txt"
    image_list.write_text(f"{path}, {fine_id}, {int(coarse_id) + 1}\n")

    result = CliRunner().invoke(
        vision_app, ["eval", str(image_list), str(grocery_store), "--threads", "1"]
    )

    assert result.exit_code == 2
    assert f"belongs to coarse id {coarse_id}" in result.stderr
