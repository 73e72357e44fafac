"""Product recogniser: preprocessing, image lists, labels and the committed model."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from walkout.perception.recognition import (
    DEFAULT_MODEL_PATH,
    ClassMap,
    ImageListError,
    ImageLoadError,
    LabelsFile,
    ModelFileError,
    Preprocessing,
    preprocess,
    read_image_list,
)
from walkout.perception.recognition.labels import labels_path_for, set_temperature
from walkout.perception.recognition.preprocess import load_rgb, resize_and_crop

REPO_ROOT = Path(__file__).resolve().parents[2]
GROCERY_STORE = REPO_ROOT.parent / "shared" / "data" / "grocery-store" / "dataset"

# Ten validation images spread over fruit, vegetables and packages. The
# committed model gets 87.5 % of the validation split and all 10 of these
# right. The test allows 2 misses, so a retrained model can pass.
FIXED_VAL_LINES = (0, 30, 60, 90, 120, 150, 180, 210, 240, 270)


@pytest.fixture(scope="module")
def grocery_store() -> Path:
    if not (GROCERY_STORE / "val.txt").is_file():
        pytest.skip(f"Grocery Store Dataset not found at {GROCERY_STORE}")
    return GROCERY_STORE


# Preprocessing


def test_preprocess_shape_and_dtype() -> None:
    image = np.full((300, 400, 3), 128, dtype=np.uint8)

    tensor = preprocess(image, Preprocessing(size=224))

    assert tensor.shape == (3, 224, 224)
    assert tensor.dtype == np.float32


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(0, (0.0 - 0.498) / 0.502, id="black"),
        pytest.param(127, (127 / 255 - 0.498) / 0.502, id="grey"),
        pytest.param(255, (1.0 - 0.498) / 0.502, id="white"),
    ],
)
def test_preprocess_normalisation(value: int, expected: float) -> None:
    image = np.full((64, 64, 3), value, dtype=np.uint8)

    tensor = preprocess(image, Preprocessing(size=32))

    np.testing.assert_allclose(tensor, expected, atol=1e-5)


def test_preprocess_keeps_rgb_channel_order() -> None:
    image = np.zeros((40, 40, 3), dtype=np.uint8)
    image[..., 0] = 255

    tensor = preprocess(image, Preprocessing(size=32))

    assert tensor[0].min() > 0.99
    assert tensor[1].max() < -0.99
    assert tensor[2].max() < -0.99


def test_preprocess_crops_centre_of_wide_image() -> None:
    # Left and right thirds red, middle third blue. The centre square crop of a
    # 3:1 image contains only the blue third.
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, :100, 0] = 255
    image[:, 100:200, 2] = 255
    image[:, 200:, 0] = 255

    tensor = preprocess(image, Preprocessing(size=32))

    assert tensor[2, :, 2:-2].min() > 0.9
    assert tensor[0, :, 2:-2].max() < -0.9


def test_preprocess_rejects_bgra_array() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        preprocess(np.zeros((8, 8, 4), dtype=np.uint8), Preprocessing(size=32))


def test_preprocess_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="not found"):
        preprocess(tmp_path / "missing.jpg", Preprocessing(size=32))


def test_preprocess_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.jpg"
    path.write_bytes(b"not a jpeg")

    with pytest.raises(ImageLoadError, match="cannot decode"):
        preprocess(path, Preprocessing(size=32))


# Image lists


def _write_list(tmp_path: Path, text: str) -> Path:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.jpg")
    path = tmp_path / "list.txt"
    path.write_text(text)
    return path


def test_image_list_reads_lines(tmp_path: Path) -> None:
    path = _write_list(tmp_path, "a.jpg, 3, 1\n\na.jpg,4,2\n")

    items = read_image_list(path, tmp_path)

    assert [(i.path.name, i.fine_id, i.coarse_id) for i in items] == [
        ("a.jpg", 3, 1),
        ("a.jpg", 4, 2),
    ]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        pytest.param("a.jpg, 3\n", "list.txt:1: expected", id="two-fields"),
        pytest.param(
            "a.jpg, 3, 1\na.jpg, x, 1\n", "list.txt:2: class ids", id="text-id"
        ),
        pytest.param(
            "a.jpg, -1, 1\n", "list.txt:1: class ids must be >= 0", id="negative"
        ),
        pytest.param("a.jpg, 81, 1\n", "list.txt:1: fine id 81", id="out-of-range"),
        pytest.param(
            "b.jpg, 3, 1\n", "list.txt:1: image not found", id="missing-image"
        ),
        pytest.param("\n\n", "list.txt: the image list is empty", id="empty"),
    ],
)
def test_image_list_rejects_bad_line(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write_list(tmp_path, text)

    with pytest.raises(ImageListError) as caught:
        read_image_list(path, tmp_path, num_fine=81)

    assert fragment in str(caught.value)


# Labels


def test_labels_file_round_trip(tmp_path: Path) -> None:
    classes = ClassMap(
        fine_names=("Golden-Delicious", "Banana"),
        coarse_of_fine=(0, 1),
        coarse_names={0: "Apple", 1: "Banana"},
    )
    path = tmp_path / "model.labels.json"

    spec = Preprocessing(size=200, crop_fraction=0.875, mirror_average=True)
    LabelsFile(classes, spec).write(path)
    read = LabelsFile.read(path)

    assert read.classes == classes
    assert read.preprocessing == spec


def test_labels_without_mirror_setting_single_pass(
    tmp_path: Path,
) -> None:
    classes = ClassMap(
        fine_names=("Banana",), coarse_of_fine=(0,), coarse_names={0: "Banana"}
    )
    path = tmp_path / "model.labels.json"
    LabelsFile(classes, Preprocessing(size=200)).write(path)
    document = json.loads(path.read_text())
    del document["preprocessing"]["mirror_average"]
    path.write_text(json.dumps(document))

    assert LabelsFile.read(path).preprocessing.mirror_average is False


def test_classes_csv_maps_fine_to_coarse(grocery_store: Path) -> None:
    classes = ClassMap.from_classes_csv(grocery_store / "classes.csv")

    assert classes.num_fine == 81
    assert classes.fine_names[0] == "Golden-Delicious"
    assert classes.coarse_name(0) == "Apple"


# The committed model


@pytest.fixture(scope="module")
def recogniser() -> object:
    pytest.importorskip("onnxruntime", reason="the perception extra is not installed")
    from walkout.perception.recognition import Recogniser

    return Recogniser(threads=2)


def test_committed_model_and_labels_exist() -> None:
    assert DEFAULT_MODEL_PATH.is_file()
    assert labels_path_for(DEFAULT_MODEL_PATH).is_file()
    assert DEFAULT_MODEL_PATH.stat().st_size < 25 * 1024 * 1024


def test_recogniser_classifies_val_images(
    grocery_store: Path, recogniser: object
) -> None:
    from walkout.perception.recognition import Recogniser

    assert isinstance(recogniser, Recogniser)
    lines = (grocery_store / "val.txt").read_text().splitlines()
    items = [lines[i].split(",") for i in FIXED_VAL_LINES]
    paths = [grocery_store / path.strip() for path, _, _ in items]

    predictions = recogniser.predict(paths, top_k=3)

    assert len(predictions) == len(paths)
    correct = 0
    for (_, fine_id, _), top in zip(items, predictions, strict=True):
        assert len(top) == 3
        assert top[0].p >= top[1].p >= top[2].p
        correct += top[0].fine_id == int(fine_id)
    assert correct >= 8, f"{correct} of 10 fixed validation images correct"


def test_recogniser_probabilities_sum_to_one(recogniser: object) -> None:
    from walkout.perception.recognition import Recogniser

    assert isinstance(recogniser, Recogniser)
    images = [np.full((120, 90, 3), v, dtype=np.uint8) for v in (0, 90, 200)]

    probabilities = recogniser.probabilities(images)

    assert probabilities.shape == (3, 81)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_mirror_average_is_mean_of_image_and_mirror(recogniser: object) -> None:
    from walkout.perception.recognition import Recogniser

    assert isinstance(recogniser, Recogniser)
    size = recogniser.preprocessing.size
    rng = np.random.default_rng(3)
    # A square image at the input size, so that no resize or crop happens and
    # mirroring the photo equals mirroring the network input.
    image = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    image[:, : size // 3] = (200, 30, 30)
    mirrored = np.ascontiguousarray(image[:, ::-1])
    single = Recogniser(DEFAULT_MODEL_PATH, threads=2)
    single.preprocessing = replace(
        single.preprocessing, crop_fraction=1.0, mirror_average=False
    )
    both = Recogniser(DEFAULT_MODEL_PATH, threads=2)
    both.preprocessing = replace(single.preprocessing, mirror_average=True)

    plain, flipped = single.logits([image, mirrored])
    averaged = both.logits([image])[0]

    assert not np.allclose(plain, flipped, atol=1e-2)
    np.testing.assert_allclose(averaged, (plain + flipped) / 2, atol=1e-4)


def test_recogniser_empty_batch(recogniser: object) -> None:
    from walkout.perception.recognition import Recogniser

    assert isinstance(recogniser, Recogniser)
    assert recogniser.predict([]) == []


def test_inference_does_not_import_torch() -> None:
    pytest.importorskip("onnxruntime", reason="the perception extra is not installed")
    script = (
        "import sys\n"
        "import numpy as np\n"
        "from walkout.perception.recognition import Recogniser\n"
        "Recogniser(threads=1).predict([np.zeros((64, 64, 3), dtype=np.uint8)])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )

    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert completed.returncode == 0, completed.stderr


# Awkward inputs


def test_thin_strip_resizes_only_the_centre() -> None:
    strip = Image.fromarray(np.full((5000, 1, 3), 90, dtype=np.uint8))

    crop = resize_and_crop(strip, Preprocessing(size=320))

    assert crop.size == (320, 320)
    assert np.asarray(crop).mean() == pytest.approx(90, abs=1)


def test_exif_rotated_photo_loads_upright(tmp_path: Path) -> None:
    # Stored 40 x 20 with orientation 6: the camera was turned 90 degrees, so
    # the upright picture is 20 x 40.
    stored = Image.new("RGB", (40, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "sideways.jpg"
    stored.save(path, exif=exif)

    assert load_rgb(path).size == (20, 40)


def test_sixteen_bit_grey_keeps_its_levels(tmp_path: Path) -> None:
    grey = Image.fromarray(np.full((8, 8), 32768, dtype=np.uint16))
    path = tmp_path / "grey16.png"
    grey.save(path)

    pixels = np.asarray(load_rgb(path))

    assert pixels.shape == (8, 8, 3)
    assert 120 <= pixels.mean() <= 135


def test_folder_as_image_is_named(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="is a folder"):
        preprocess(tmp_path, Preprocessing(size=64))


def _labels_document(tmp_path: Path) -> tuple[Path, dict[str, object]]:
    classes = ClassMap(
        fine_names=("Banana",), coarse_of_fine=(0,), coarse_names={0: "Banana"}
    )
    path = tmp_path / "model.labels.json"
    LabelsFile(classes, Preprocessing(size=200)).write(path)
    return path, json.loads(path.read_text())


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        pytest.param({"temperature": 1e-40}, "outside", id="temperature-tiny"),
        pytest.param({"temperature": 1e300}, "outside", id="temperature-huge"),
        pytest.param({"temperature": "0.5"}, "must be a number", id="temperature-text"),
        pytest.param({"temperature": True}, "must be a number", id="temperature-bool"),
        pytest.param(
            {"preprocessing": {"size": 200, "mirror_average": "false"}},
            "mirror_average must be true or false",
            id="mirror-text",
        ),
        pytest.param(
            {"preprocessing": {"size": 200, "std": [0, 0, 0]}},
            "std must be positive",
            id="std-zero",
        ),
        pytest.param(
            {"preprocessing": {"size": 200, "mean": [0.5, 0.5]}},
            "mean must be 3 numbers",
            id="mean-two",
        ),
        pytest.param(
            {"preprocessing": {"size": 200, "interp": "cubic"}},
            "unknown preprocessing settings ['interp']",
            id="unknown-key",
        ),
        pytest.param(
            {"preprocessing": {"size": "200"}},
            "size must be an integer",
            id="size-text",
        ),
    ],
)
def test_labels_file_rejects_bad_value(
    tmp_path: Path, change: dict[str, object], fragment: str
) -> None:
    path, document = _labels_document(tmp_path)
    document.update(change)
    path.write_text(json.dumps(document))

    with pytest.raises(ModelFileError) as caught:
        LabelsFile.read(path)

    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_labels_file_rejects_top_level_list(tmp_path: Path) -> None:
    path = tmp_path / "model.labels.json"
    path.write_text("[]")

    with pytest.raises(ModelFileError, match="JSON object at the top level"):
        LabelsFile.read(path)


def test_set_temperature_keeps_unknown_keys(tmp_path: Path) -> None:
    path, document = _labels_document(tmp_path)
    document["notes"] = "trained on store 7's crops"
    path.write_text(json.dumps(document))

    set_temperature(path, 0.5)

    rewritten = json.loads(path.read_text())
    assert rewritten["temperature"] == 0.5
    assert rewritten["notes"] == "trained on store 7's crops"
    assert list(tmp_path.iterdir()) == [path]


def test_recogniser_accepts_string_paths() -> None:
    pytest.importorskip("onnxruntime", reason="the perception extra is not installed")
    from walkout.perception.recognition import Recogniser

    recogniser = Recogniser(str(DEFAULT_MODEL_PATH), threads=1)

    assert recogniser.classes.num_fine == 81


def test_recogniser_rejects_size_the_model_cannot_take(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the perception extra is not installed")
    from walkout.perception.recognition import Recogniser

    model = tmp_path / DEFAULT_MODEL_PATH.name
    model.symlink_to(DEFAULT_MODEL_PATH)
    committed = LabelsFile.read(labels_path_for(DEFAULT_MODEL_PATH))
    wrong = replace(committed.preprocessing, size=committed.preprocessing.size - 64)
    replace(committed, preprocessing=wrong).write(labels_path_for(model))

    with pytest.raises(ModelFileError, match=f"sets size {wrong.size}"):
        Recogniser(model, threads=1)


def test_recogniser_rejects_a_lone_path(recogniser: object) -> None:
    from walkout.perception.recognition import Recogniser

    assert isinstance(recogniser, Recogniser)
    with pytest.raises(TypeError, match="pass a list of images"):
        recogniser.predict("banana.jpg")  # type: ignore[arg-type]
