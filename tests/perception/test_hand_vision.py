"""Hand crops to vision rows, on a video with real product photos at known wrists."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("cv2", reason="the perception extra is not installed")
pytest.importorskip("onnxruntime", reason="the perception extra is not installed")

import cv2

from walkout.perception.geometry import project
from walkout.perception.hands import (
    HandObserver,
    crop_square,
    plate_distance,
    write_vision,
)
from walkout.perception.perceive import perceive
from walkout.perception.pose import Image
from walkout.perception.recognition import ModelFileError, Recogniser
from walkout.perception.tracking import Observation, Tracker
from walkout.recording import Camera, FloatArray, Plate, Product, Store, StoreInfo
from walkout.recording._store import store_document
from walkout.recording.reader import read_vision

GROCERY = Path(__file__).resolve().parents[3] / "shared" / "data" / "grocery-store"
MILK_CLASS = "Garant-Ecological-Medium-Fat-Milk"
JUICE_CLASS = "God-Morgon-Apple-Juice"
MILK_PHOTO = f"val/Packages/Milk/{MILK_CLASS}/{MILK_CLASS}_003.jpg"
JUICE_PHOTO = f"val/Packages/Juice/{JUICE_CLASS}/{JUICE_CLASS}_001.jpg"

# Track a holds the milk in its right hand at plate 1.1.1; track b holds the
# juice in its left hand at plate 1.1.2. Track a's left hand is far from
# every shelf, so it must never be cropped.
MILK_WRIST = np.array([0.55, 0.25, 1.25])
JUICE_WRIST = np.array([1.55, 0.25, 1.25])
IDLE_WRIST = np.array([0.7, -0.7, 0.9])


@pytest.fixture(scope="module")
def recogniser() -> Recogniser:
    try:
        return Recogniser(threads=1)
    except ModelFileError as error:
        pytest.skip(f"recogniser model unavailable: {error}")


@pytest.fixture(scope="module")
def photos() -> dict[str, Image]:
    dataset = GROCERY / "dataset"
    if not (dataset / MILK_PHOTO).is_file():
        pytest.skip(f"Grocery Store Dataset not found at {dataset}")
    return {
        name: np.asarray(cv2.imread(str(dataset / path)), dtype=np.uint8)
        for name, path in (("milk", MILK_PHOTO), ("juice", JUICE_PHOTO))
    }


def overhead_camera() -> Camera:
    """A 640x480 camera 2.6 m above (1.0, 0.0) looking straight down."""
    world_to_camera = np.array(
        [
            [1.0, 0.0, 0.0, -1.0],
            [0.0, -1.0, 0.0, 0.0],
            [0.0, 0.0, -1.0, 2.6],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )
    K = np.array([[400.0, 0.0, 320.0], [0.0, 400.0, 240.0], [0.0, 0.0, 1.0]])
    return Camera("1", 640, 480, K, np.zeros(5), world_to_camera)


def product(sku: str, vision_class: str | None) -> Product:
    return Product(sku, sku, Decimal("1.00"), 500.0, vision_class=vision_class)


def make_store() -> Store:
    plates = {
        plate_id: Plate(plate_id, 1, 1, index, (x, 0.45, 1.2), (0.4, 0.3))
        for index, (plate_id, x) in enumerate((("1.1.1", 0.5), ("1.1.2", 1.5)), 1)
    }
    products = {
        p.sku: p
        for p in (
            product("milk-1", MILK_CLASS),
            product("juice-1", JUICE_CLASS),
            product("juice-2", JUICE_CLASS),
            product("pepper-1", "Yellow-Bell-Pepper"),
            product("unmapped-1", None),
        )
    }
    return Store(
        StoreInfo("test", "Test", "USD"),
        products,
        plates,
        [],
        cameras=[overhead_camera()],
    )


def write_video(path: Path, photos: dict[str, Image], frames: int) -> None:
    """Write a video of a noisy floor with each photo pasted at its wrist."""
    camera = overhead_camera()
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(
        str(path), cv2.VideoWriter.fourcc(*"mp4v"), 10.0, (640, 480)
    )
    for _ in range(frames):
        frame = rng.integers(90, 140, size=(480, 640, 3), dtype=np.uint8)
        for name, wrist in (("milk", MILK_WRIST), ("juice", JUICE_WRIST)):
            pixels, _ = project(camera, wrist[None, :])
            u, v = pixels[0]
            side = 110
            photo = cv2.resize(photos[name], (side, side))
            top, left = int(v) - side // 2, int(u) - side // 2
            frame[top : top + side, left : left + side] = photo
        writer.write(frame)
    writer.release()


def joints(*wrists: tuple[str, FloatArray]) -> dict[str, tuple[FloatArray, float]]:
    head = np.array([wrists[0][1][0], wrists[0][1][1] - 0.4, 1.6])
    result = {"head": (head, 0.9)}
    result.update({name: (point, 0.8) for name, point in wrists})
    return result


def test_hand_crops_name_held_products(
    tmp_path: Path, recogniser: Recogniser, photos: dict[str, Image]
) -> None:
    video = tmp_path / "1.mp4"
    write_video(video, photos, frames=8)
    store = make_store()
    observer = HandObserver(store, {"1": overhead_camera()}, recogniser)
    tracker = Tracker()
    person_a = Observation(
        (0.55, -0.15),
        joints(("right_wrist", MILK_WRIST), ("left_wrist", IDLE_WRIST)),
    )
    person_b = Observation((1.55, -0.15), joints(("left_wrist", JUICE_WRIST)))

    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        t = index / 10.0
        tracks = tracker.update(t, [person_a, person_b])
        observer.observe(t, {"1": frame}, tracks)
        index += 1
    capture.release()
    assert index == 8

    seen = observer.observations()
    track_a = next(track.id for track in tracker.tracks if track.floor[0] < 1.0)
    track_b = next(track.id for track in tracker.tracks if track.floor[0] > 1.0)
    hands = set(zip(seen.track, seen.hand, strict=True))
    assert hands == {(track_a, "right"), (track_b, "left")}

    # Every observation of track a's right hand ranks the milk first.
    for t in sorted(set(seen.t[seen.track == track_a])):
        rows = np.flatnonzero((seen.track == track_a) & (seen.t == t))
        best = rows[np.argmax(seen.p[rows])]
        assert seen.sku[best] == "milk-1"
        assert seen.p[best] > 0.5

    # Both juice products share their class's probability equally.
    for t in sorted(set(seen.t[seen.track == track_b])):
        rows = np.flatnonzero((seen.track == track_b) & (seen.t == t))
        top_two = rows[np.argsort(-seen.p[rows])][:2]
        assert set(seen.sku[top_two]) == {"juice-1", "juice-2"}
        assert seen.p[top_two[0]] == seen.p[top_two[1]]
        assert seen.p[top_two[0]] > 0.25

    assert "unmapped-1" not in set(seen.sku)
    assert observer.crops == len(set(zip(seen.t, seen.track, seen.hand, strict=True)))


def test_vision_rows_round_trip(
    tmp_path: Path, recogniser: Recogniser, photos: dict[str, Image]
) -> None:
    store = make_store()
    observer = HandObserver(store, {"1": overhead_camera()}, recogniser)
    camera = overhead_camera()
    frame = np.full((480, 640, 3), 110, np.uint8)
    pixels, _ = project(camera, MILK_WRIST[None, :])
    u, v = pixels[0]
    frame[int(v) - 55 : int(v) + 55, int(u) - 55 : int(u) + 55] = cv2.resize(
        photos["milk"], (110, 110)
    )
    tracker = Tracker()
    person = Observation((0.55, -0.15), joints(("right_wrist", MILK_WRIST)))
    for index in range(8):
        tracks = tracker.update(index / 10.0, [person])
        observer.observe(index / 10.0, {"1": frame}, tracks)

    target = tmp_path / "vision.csv"
    write_vision(target, observer.observations())
    header = target.read_text().splitlines()[0]
    assert header == "t,track,hand,sku,p"
    stored = read_vision(target, store)
    assert len(stored) == len(observer.observations())
    assert len(stored) > 0
    assert set(stored.sku) <= set(store.products)


def test_store_without_classes_is_inactive(recogniser: Recogniser) -> None:
    store = make_store()
    for sku, item in list(store.products.items()):
        store.products[sku] = product(item.sku, None)
    observer = HandObserver(store, {"1": overhead_camera()}, recogniser)
    assert not observer.active


def test_crop_square_pads_at_border() -> None:
    frame = np.arange(100 * 80 * 3, dtype=np.uint8).reshape(100, 80, 3)
    crop = crop_square(frame, 2.0, 97.0, 40)
    assert crop.shape == (40, 40, 3)
    inside = crop_square(frame, 40.0, 50.0, 20)
    assert np.array_equal(inside, frame[40:60, 30:50])


def test_plate_distance_inside_and_above() -> None:
    plate = Plate("1.1.1", 1, 1, 1, (0.5, 0.5, 1.0), (0.4, 0.2))
    assert plate_distance(np.array([0.6, 0.5, 1.0]), plate) == 0.0
    assert plate_distance(np.array([0.5, 0.5, 1.3]), plate) == pytest.approx(0.3)
    assert plate_distance(np.array([1.0, 0.5, 1.0]), plate) == pytest.approx(0.3)


def write_recording_with_video(
    path: Path, photos: dict[str, Image], frames: int
) -> Path:
    """Write a recording with the test store, one weight reading and one video."""
    path.mkdir()
    (path / "store.json").write_text(json.dumps(store_document(make_store())))
    (path / "weights.csv").write_text("t,plate,g\n0.0,1.1.1,1000.0\n")
    (path / "video").mkdir()
    write_video(path / "video" / "1.mp4", photos, frames)
    index = {"1": {"file": "1.mp4", "start_t": 0.0, "fps": 10.0}}
    (path / "video" / "index.json").write_text(json.dumps(index))
    return path


def test_perceive_vision_flag(
    tmp_path: Path, recogniser: Recogniser, photos: dict[str, Image]
) -> None:
    # No person is in the video, so no hand is cropped either way.
    recording = write_recording_with_video(tmp_path / "rec", photos, frames=5)
    without = perceive(recording, vision=False, recogniser=recogniser)
    assert not without.vision_written
    assert not (recording / "vision.csv").exists()

    with_vision = perceive(recording, recogniser=recogniser)
    assert with_vision.vision_written
    assert with_vision.hand_crops == 0
    lines = (recording / "vision.csv").read_text().splitlines()
    assert lines == ["t,track,hand,sku,p"]


def test_detected_pixel_beats_bad_lift(
    tmp_path: Path, recogniser: Recogniser, photos: dict[str, Image]
) -> None:
    # The lifted wrist is 0.3 m off (a calibration error), about 86 px at
    # this depth, but the camera detected the wrist on the photo.
    video = tmp_path / "1.mp4"
    write_video(video, photos, frames=8)
    camera = overhead_camera()
    pixels, _ = project(camera, JUICE_WRIST[None, :])
    lifted = JUICE_WRIST + np.array([0.3, 0.0, 0.0])
    observer = HandObserver(make_store(), {"1": camera}, recogniser)
    tracker = Tracker()
    person = Observation(
        (1.85, -0.15),
        joints(("left_wrist", lifted)),
        cameras=("1",),
        pixels={"left_wrist": {"1": (float(pixels[0, 0]), float(pixels[0, 1]))}},
    )
    capture = cv2.VideoCapture(str(video))
    for index in range(8):
        ok, frame = capture.read()
        assert ok
        tracks = tracker.update(index / 10.0, [person])
        observer.observe(index / 10.0, {"1": frame}, tracks)
    capture.release()

    seen = observer.observations()
    assert len(seen) > 0
    best = np.argsort(-seen.p)[:2]
    assert set(seen.sku[best]) == {"juice-1", "juice-2"}
