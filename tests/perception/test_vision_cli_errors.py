"""Bad input to `walkout vision` stops it with one stderr line and exit code 2."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

pytest.importorskip("onnxruntime", reason="the perception extra is not installed")

from PIL import Image

from walkout import cli_vision
from walkout.cli_vision import vision_app
from walkout.perception.recognition import DEFAULT_MODEL_PATH
from walkout.perception.recognition.errors import ModelFileError
from walkout.perception.recognition.labels import (
    ClassMap,
    LabelsFile,
    labels_path_for,
)
from walkout.perception.recognition.preprocess import Preprocessing


def _run(*args: str) -> Any:
    return CliRunner().invoke(vision_app, list(args))


def _error_line(result: Any) -> str:
    """Return the single non-empty stderr line of a failed command."""
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines: list[str] = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def model_classes() -> ClassMap:
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"committed model not found at {DEFAULT_MODEL_PATH}")
    return LabelsFile.read(labels_path_for(DEFAULT_MODEL_PATH)).classes


def _image_set(folder: Path, classes: ClassMap, count: int) -> Path:
    """Write ``count`` small images of fine class 0 and their list; return the list."""
    coarse = classes.coarse_of_fine[0]
    lines = []
    for index in range(count):
        Image.new("RGB", (40, 30), (index * 40, 120, 60)).save(folder / f"{index}.png")
        lines.append(f"{index}.png, 0, {coarse}")
    image_list = folder / "list.txt"
    image_list.write_text("\n".join(lines) + "\n")
    return image_list


# Labels JSON and classes.csv


def _labels_document() -> dict[str, Any]:
    return {
        "format": "walkout-recognition-labels/1",
        "fine": [
            {"id": 0, "name": "Apple", "coarse_id": 0, "coarse_name": "Fruit"},
            {"id": 1, "name": "Pear", "coarse_id": 0, "coarse_name": "Fruit"},
            {"id": 2, "name": "Milk", "coarse_id": 1, "coarse_name": "Dairy"},
        ],
        "preprocessing": {"size": 64},
        "temperature": 1.0,
    }


def _write_labels(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_labels_valid_document_reads(tmp_path: Path) -> None:
    labels = LabelsFile.read(
        _write_labels(tmp_path / "m.labels.json", _labels_document())
    )
    assert labels.classes.fine_names == ("Apple", "Pear", "Milk")


def test_labels_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "m.labels.json"
    path.write_bytes(
        json.dumps(_labels_document()).replace("Pear", "P\xe9ar").encode("latin-1")
    )
    with pytest.raises(ModelFileError, match="is not UTF-8 text") as caught:
        LabelsFile.read(path)
    assert str(path) in str(caught.value)


def test_labels_malformed_json_position(tmp_path: Path) -> None:
    path = tmp_path / "m.labels.json"
    path.write_text(
        '{\n  "format": "walkout-recognition-labels/1",\n  "fine": [,]\n}\n'
    )
    with pytest.raises(ModelFileError, match=r"is not valid JSON: .* line 3 column"):
        LabelsFile.read(path)


def test_labels_missing_fine_key(tmp_path: Path) -> None:
    document = _labels_document()
    del document["fine"]
    with pytest.raises(ModelFileError, match="the key 'fine'"):
        LabelsFile.read(_write_labels(tmp_path / "m.labels.json", document))


def test_labels_entry_missing_name(tmp_path: Path) -> None:
    document = _labels_document()
    del document["fine"][1]["name"]
    with pytest.raises(
        ModelFileError, match="'fine' entry 1 is missing the key 'name'"
    ):
        LabelsFile.read(_write_labels(tmp_path / "m.labels.json", document))


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        (
            "coarse_name",
            "Vegetable",
            "coarse id 0 is named both 'Fruit' and 'Vegetable'",
        ),
        ("name", None, "fine class 1 has name None"),
        ("name", 7, "fine class 1 has name 7"),
        ("coarse_id", -2, "fine class 1 has coarse id -2"),
        ("name", "Apple", "fine class names ['Apple'] occur more than once"),
    ],
)
def test_labels_bad_class_rejected(
    tmp_path: Path, field: str, value: object, expected: str
) -> None:
    document = _labels_document()
    document["fine"][1][field] = value
    path = _write_labels(tmp_path / "m.labels.json", document)
    with pytest.raises(ModelFileError) as caught:
        LabelsFile.read(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


CLASSES_HEADER = (
    "Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID (int)\n"
)


def test_classes_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "classes.csv"
    path.write_bytes((CLASSES_HEADER + "P\xe9ar,0,Fruit,0\n").encode("latin-1"))
    with pytest.raises(ModelFileError, match="is not UTF-8 text") as caught:
        ClassMap.from_classes_csv(path)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ("Apple,0,Fruit,0\nPear,1,Veg,0\n", "coarse id 0 is named 'Veg'"),
        ("Apple,0,Fruit,0\nApple,1,Fruit,0\n", "occur more than once"),
        ("Apple,0,Fruit,0\nPear,1,Fruit,-1\n", "coarse id -1"),
    ],
)
def test_classes_csv_bad_class_rejected(
    tmp_path: Path, rows: str, expected: str
) -> None:
    path = tmp_path / "classes.csv"
    path.write_text(CLASSES_HEADER + rows)
    with pytest.raises(ModelFileError, match=expected):
        ClassMap.from_classes_csv(path)


def test_eval_not_utf8_labels_one_line(tmp_path: Path, model_classes: ClassMap) -> None:
    model = tmp_path / "m.onnx"
    model.symlink_to(DEFAULT_MODEL_PATH.resolve())
    labels_path_for(model).write_bytes(b"\xff\xfe{}")
    image_list = _image_set(tmp_path, model_classes, 1)
    line = _error_line(
        _run("eval", str(image_list), str(tmp_path), "--model", str(model))
    )
    assert "is not UTF-8 text" in line
    assert "m.labels.json" in line


# Image lists


def test_eval_missing_root_named_once(tmp_path: Path, model_classes: ClassMap) -> None:
    image_list = _image_set(tmp_path, model_classes, 3)
    missing = tmp_path / "nowhere"
    line = _error_line(_run("eval", str(image_list), str(missing)))
    assert f"the image root folder {missing} does not exist" in line


def test_eval_image_path_is_folder(tmp_path: Path, model_classes: ClassMap) -> None:
    image_list = _image_set(tmp_path, model_classes, 2)
    (tmp_path / "sub.png").mkdir()
    image_list.write_text(image_list.read_text() + "sub.png, 0, 0\n")
    line = _error_line(_run("eval", str(image_list), str(tmp_path)))
    assert "list.txt:3" in line
    assert "is a folder, not an image file" in line


def test_eval_decode_error_names_list_line(
    tmp_path: Path, model_classes: ClassMap
) -> None:
    image_list = _image_set(tmp_path, model_classes, 2)
    (tmp_path / "1.png").write_text("not an image")
    line = _error_line(_run("eval", str(image_list), str(tmp_path)))
    assert f"{image_list}:2:" in line
    assert "cannot decode image" in line


def test_outputs_rejects_wrong_coarse_id(
    tmp_path: Path, model_classes: ClassMap
) -> None:
    image_list = _image_set(tmp_path, model_classes, 1)
    wrong = model_classes.coarse_of_fine[0] + 1
    image_list.write_text(f"0.png, 0, {wrong}\n")
    out = tmp_path / "outputs.json"
    line = _error_line(
        _run("outputs", str(image_list), str(tmp_path), "--out", str(out))
    )
    assert f"has coarse id {wrong}" in line
    assert not out.exists()


# Progress


@pytest.mark.parametrize("command", ["eval", "calibrate", "outputs"])
def test_long_commands_report_progress(
    tmp_path: Path,
    model_classes: ClassMap,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
) -> None:
    calls: list[tuple[str, int, int]] = []

    @contextmanager
    def record(label: str) -> Iterator[Any]:
        yield lambda done, total: calls.append((label, done, total))

    monkeypatch.setattr(cli_vision, "_progress", record)
    image_list = _image_set(tmp_path, model_classes, 3)
    args = [command, str(image_list), str(tmp_path)]
    if command == "outputs":
        args += ["--out", str(tmp_path / "outputs.json")]
    if command == "calibrate":
        model = tmp_path / "m.onnx"
        model.symlink_to(DEFAULT_MODEL_PATH.resolve())
        labels_path_for(model).write_bytes(
            labels_path_for(DEFAULT_MODEL_PATH).read_bytes()
        )
        args += ["--model", str(model)]
    CliRunner().invoke(vision_app, args)
    # calibrate may reject three images as too few, but only after the progress.
    assert (command, 3, 3) in calls


def test_help_argument_names_lower_case() -> None:
    result = _run("eval", "--help")
    assert "{list} {root}" in result.output
    assert "{LIST}" not in result.output


# Training output


@pytest.fixture
def trainer_must_not_run(monkeypatch: pytest.MonkeyPatch) -> None:
    train_module = pytest.importorskip("walkout.perception.recognition.train")

    def fail_if_called(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started before --out was checked")

    monkeypatch.setattr(train_module, "train", fail_if_called)


@pytest.mark.usefixtures("trainer_must_not_run")
def test_train_out_is_file(tmp_path: Path) -> None:
    out = tmp_path / "models"
    out.write_text("a file")
    line = _error_line(_run("train", "--data", str(tmp_path), "--out", str(out)))
    assert "--out" in line
    assert str(out) in line


@pytest.mark.usefixtures("trainer_must_not_run")
def test_train_out_unwritable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root ignores permission bits, so a failing mkstemp simulates a
    # read-only folder.
    def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    line = _error_line(
        _run("train", "--data", str(tmp_path), "--out", str(tmp_path / "models"))
    )
    assert "cannot write files here" in line


def _tiny_network() -> Any:
    torch = pytest.importorskip("torch")
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 3, 1), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()
    )


def _tiny_labels(temperature: float) -> LabelsFile:
    classes = ClassMap(
        fine_names=("a", "b", "c"),
        coarse_of_fine=(0, 0, 1),
        coarse_names={0: "x", 1: "y"},
    )
    return LabelsFile(classes, Preprocessing(size=32), temperature=temperature)


def test_model_and_labels_replaced_together(tmp_path: Path) -> None:
    train_module = pytest.importorskip("walkout.perception.recognition.train")
    model_path = tmp_path / "m.onnx"
    model_path.write_bytes(b"old model")
    labels_path_for(model_path).write_text("old labels")

    train_module.write_model_and_labels(
        _tiny_network(), model_path, _tiny_labels(2.0), 32
    )

    assert model_path.read_bytes() != b"old model"
    assert LabelsFile.read(labels_path_for(model_path)).temperature == 2.0
    assert sorted(os.listdir(tmp_path)) == ["m.labels.json", "m.onnx"]


def test_failed_labels_write_keeps_old_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_module = pytest.importorskip("walkout.perception.recognition.train")
    model_path = tmp_path / "m.onnx"
    model_path.write_bytes(b"old model")
    labels_path_for(model_path).write_text("old labels")

    def full_disk(self: LabelsFile, path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(LabelsFile, "write", full_disk)
    with pytest.raises(OSError, match="No space left"):
        train_module.write_model_and_labels(
            _tiny_network(), model_path, _tiny_labels(2.0), 32
        )

    assert model_path.read_bytes() == b"old model"
    assert labels_path_for(model_path).read_text() == "old labels"
    assert sorted(os.listdir(tmp_path)) == ["m.labels.json", "m.onnx"]


def test_failed_export_keeps_old_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_module = pytest.importorskip("walkout.perception.recognition.train")
    model_path = tmp_path / "m.onnx"
    model_path.write_bytes(b"old model")

    def broken_export(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"half")
        raise RuntimeError("export failed")

    monkeypatch.setattr(train_module, "_export_onnx_to", broken_export)
    with pytest.raises(RuntimeError):
        train_module.export_onnx(_tiny_network(), model_path, 32)

    assert model_path.read_bytes() == b"old model"
    assert os.listdir(tmp_path) == ["m.onnx"]


def test_train_reports_stage_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    train_module = pytest.importorskip("walkout.perception.recognition.train")
    from walkout.perception.recognition.errors import RecognitionError

    def stages_then_fail(*args: object, **kwargs: Any) -> None:
        on_stage = kwargs["on_stage"]
        on_stage("score preprocessing", 0, 2)
        on_stage("score preprocessing", 2, 2)
        on_stage("export", 0, 1)
        on_stage("export", 1, 1)
        raise RecognitionError("stopped after the stages")

    monkeypatch.setattr(train_module, "train", stages_then_fail)
    line = _error_line(
        _run("train", "--data", str(tmp_path), "--out", str(tmp_path / "models"))
    )
    assert "stopped after the stages" in line
