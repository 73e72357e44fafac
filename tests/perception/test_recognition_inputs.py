"""Recogniser input checks: labels ids, very large images, mirror averaging."""

from __future__ import annotations

import importlib
import json
import logging
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from walkout.perception.recognition.errors import ImageLoadError, ModelFileError
from walkout.perception.recognition.labels import ClassMap, LabelsFile
from walkout.perception.recognition.preprocess import (
    MAX_IMAGE_PIXELS,
    Preprocessing,
    load_rgb,
    mirror_averaged,
)

# The package exports a function named preprocess, which hides the module.
preprocess_module = importlib.import_module("walkout.perception.recognition.preprocess")

# Labels


def _labels_path(tmp_path: Path, ids: list[object]) -> Path:
    """Write a labels file with one fine entry per id, in the given order."""
    classes = ClassMap(
        fine_names=tuple(f"class-{index}" for index in range(len(ids))),
        coarse_of_fine=tuple(0 for _ in ids),
        coarse_names={0: "Fruit"},
    )
    path = tmp_path / "model.labels.json"
    LabelsFile(classes, Preprocessing(size=64)).write(path)
    document = json.loads(path.read_text())
    for entry, fine_id in zip(document["fine"], ids, strict=True):
        entry["id"] = fine_id
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("ids", "fragment"),
    [
        pytest.param([0, 1, 1], "duplicated ids [1]", id="duplicate"),
        pytest.param([0, 1, 3], "missing ids [2]", id="gap"),
        pytest.param([0, 1, 3], "ids outside the range [3]", id="gap-range"),
        pytest.param([1, 2, 3], "missing ids [0]", id="from-one"),
        pytest.param([0, -1, 2], "ids outside the range [-1]", id="negative"),
    ],
)
def test_labels_reject_bad_fine_ids(
    tmp_path: Path, ids: list[object], fragment: str
) -> None:
    path = _labels_path(tmp_path, ids)

    with pytest.raises(ModelFileError) as caught:
        LabelsFile.read(path)

    message = str(caught.value)
    assert str(path) in message
    assert "field 'fine', key 'id'" in message
    assert fragment in message
    assert "must be 0 to 2, each once" in message
    assert "walkout vision train" in message


@pytest.mark.parametrize("fine_id", [1.5, "1", True, None])
def test_labels_reject_non_integer_id(tmp_path: Path, fine_id: object) -> None:
    path = _labels_path(tmp_path, [0, fine_id])

    with pytest.raises(ModelFileError) as caught:
        LabelsFile.read(path)

    assert str(path) in str(caught.value)
    assert "is not an integer" in str(caught.value)


def test_labels_accept_ids_in_any_order(tmp_path: Path) -> None:
    path = _labels_path(tmp_path, [2, 0, 1])

    classes = LabelsFile.read(path).classes

    assert classes.fine_names == ("class-1", "class-2", "class-0")


def test_labels_cut_long_id_lists(tmp_path: Path) -> None:
    path = _labels_path(tmp_path, [0] * 30)

    with pytest.raises(ModelFileError) as caught:
        LabelsFile.read(path)

    assert "missing ids [1, 2, 3," in str(caught.value)
    assert "... and 9 more]" in str(caught.value)


def test_classes_csv_rejects_duplicate_id(tmp_path: Path) -> None:
    path = tmp_path / "classes.csv"
    path.write_text(
        "Class Name (str),Class ID (int),Coarse Class Name (str),Coarse Class ID\n"
        "Golden-Delicious,0,Apple,0\n"
        "Granny-Smith,1,Apple,0\n"
        "Pink-Lady,1,Apple,0\n"
    )

    with pytest.raises(ModelFileError) as caught:
        ClassMap.from_classes_csv(path)

    message = str(caught.value)
    assert str(path) in message
    assert "column 2 (fine id)" in message
    assert "duplicated ids [1]" in message
    assert "missing ids [2]" in message


# Large images


def _png_header(path: Path, width: int, height: int) -> Path:
    """Write a PNG whose header declares ``width`` x ``height`` and has no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
    )
    return path


def _bomb_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(item.message)
        for item in caught
        if issubclass(item.category, Image.DecompressionBombWarning)
    ]


def test_image_above_limit_is_rejected(tmp_path: Path) -> None:
    path = _png_header(tmp_path / "huge.png", 20_000, 10_000)

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path)

    message = str(caught.value)
    assert str(path) in message
    assert "200,000,000 pixels" in message
    assert f"{MAX_IMAGE_PIXELS:,}" in message
    assert "Scale it down" in message


def test_large_image_warning_names_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A 90 Mpx header passes the size check, logs it, then fails to decode."""
    path = _png_header(tmp_path / "large.png", 10_000, 9_000)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING), pytest.raises(ImageLoadError):
            load_rgb(path)

    assert _bomb_warnings(caught) == []
    messages = [record.getMessage() for record in caplog.records]
    assert any(
        str(path) in text and "10000 x 9000 = 90000000 pixels" in text
        for text in messages
    ), messages


def test_large_image_below_limit_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Pillow's and walkout's limits scaled down 10,000 times keep the test small."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 8_948)
    monkeypatch.setattr(preprocess_module, "LARGE_IMAGE_PIXELS", 8_948)
    monkeypatch.setattr(preprocess_module, "MAX_IMAGE_PIXELS", 17_896)
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (120, 100), (200, 30, 30)).save(path)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with caplog.at_level(logging.WARNING):
            image = load_rgb(path)

    assert image.size == (120, 100)
    assert image.mode == "RGB"
    assert _bomb_warnings(caught) == []
    assert any(str(path) in record.getMessage() for record in caplog.records)


def test_pillow_limit_off_still_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With Pillow's check disabled, walkout's own limit still applies."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    monkeypatch.setattr(preprocess_module, "MAX_IMAGE_PIXELS", 10_000)
    path = tmp_path / "photo.png"
    Image.new("RGB", (200, 100)).save(path)

    with pytest.raises(ImageLoadError) as caught:
        load_rgb(path)

    assert str(path) in str(caught.value)
    assert "200 x 100 = 20,000 pixels" in str(caught.value)


# Mirror averaging


def _batch() -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(7)
    return rng.standard_normal((2, 3, 4, 5)).astype(np.float32)


def _column_logits(batch: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Return the first row of channel 0, logits that change under a mirror."""
    return np.ascontiguousarray(batch[:, 0, 0, :])


def test_mirror_average_off_runs_once() -> None:
    batch = _batch()
    calls: list[npt.NDArray[np.float32]] = []

    def run(inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        calls.append(inputs)
        return _column_logits(inputs)

    logits = mirror_averaged(run, batch, Preprocessing(size=32))

    assert len(calls) == 1
    np.testing.assert_array_equal(logits, _column_logits(batch))


def test_mirror_average_means_both_passes() -> None:
    batch = _batch()
    calls: list[npt.NDArray[np.float32]] = []

    def run(inputs: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        calls.append(inputs)
        return _column_logits(inputs)

    logits = mirror_averaged(run, batch, Preprocessing(size=32, mirror_average=True))

    assert len(calls) == 2
    np.testing.assert_array_equal(calls[1], batch[..., ::-1])
    assert calls[1].flags["C_CONTIGUOUS"]
    expected = (_column_logits(batch) + _column_logits(batch)[:, ::-1]) / 2
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-7)


def test_training_eval_mirror_matches_torch() -> None:
    """Check training validation against averaging the model on ``flip(3)``."""
    torch = pytest.importorskip("torch", reason="the perception extra is not installed")
    from walkout.perception.recognition.preprocess import normalise, resize_and_crop
    from walkout.perception.recognition.train import predict_logits

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, kernel_size=3),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(5),
    )
    spec = Preprocessing(size=32, mirror_average=True)
    rng = np.random.default_rng(3)
    images = [
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8))
        for _ in range(3)
    ]
    model(torch.zeros(1, 3, 32, 32))

    logits = predict_logits(model, images, spec)

    inputs = torch.from_numpy(
        np.stack([normalise(resize_and_crop(image, spec), spec) for image in images])
    )
    with torch.inference_mode():
        expected = ((model(inputs) + model(inputs.flip(3))) / 2).numpy()
    single = predict_logits(model, images, Preprocessing(size=32))
    assert logits.shape == (3, 5)
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(logits, single, atol=1e-3)
