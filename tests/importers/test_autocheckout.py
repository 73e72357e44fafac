"""Import of the AiFi NanoStore test case cps-test-01, written and read back."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from walkout.importers._geometry import project_points
from walkout.importers.autocheckout import (
    AutocheckoutImportError,
    ImportReport,
    build_recording,
    import_autocheckout,
)
from walkout.recording import Recording, read_recording

FIJI_UPC = "632565000012"
TACO_BELL_FIRE_UPC = "071063437089"
# Cameras whose calibration puts plate 1.5.10 in front of them and inside
# the 640x360 frame.
CAMERAS_SEEING_1_5_10 = ("1", "5", "6", "10", "12")


@pytest.fixture(scope="module")
def imported(
    nanostore_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Recording, ImportReport, float]:
    out = tmp_path_factory.mktemp("nanostore") / "cps-test-01"
    started = time.perf_counter()
    report = import_autocheckout(nanostore_dir / "cps-test-01", out)
    seconds = time.perf_counter() - started
    return read_recording(out), report, seconds


def test_import_is_fast(imported: tuple[Recording, ImportReport, float]) -> None:
    assert imported[2] < 10.0


def test_plates_are_listed_plates_with_weights(
    nanostore_dir: Path, imported: tuple[Recording, ImportReport, float]
) -> None:
    recording, report, _ = imported
    listed = json.loads((nanostore_dir / "store_meta" / "Plates.json").read_text())
    listed_ids = {
        "{}.{}.{}".format(
            p["id"]["shelf_id"]["gondola_id"]["id"],
            p["id"]["shelf_id"]["shelf_index"],
            p["id"]["plate_index"],
        )
        for p in listed["plates"]
    }
    files = {
        ".".join(path.stem.split("_")[1::2])
        for path in (nanostore_dir / "cps-test-01" / "weight_csv").glob("*.csv")
    }
    expected = listed_ids & files
    assert set(recording.store.plates) == expected
    assert report.plates == len(expected)
    assert set(recording.weights.plate_ids) == expected
    assert set(report.plate_files_skipped) == files - listed_ids


def test_weights_sorted_and_resorting_reported(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    recording, report, _ = imported
    assert report.rows_resorted_total > 0
    for series in recording.weights.series():
        assert np.all(np.diff(series.t) >= 0), series.plate


def test_skus_of_labelled_products_are_upcs(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    products = imported[0].store.products
    assert products[FIJI_UPC].name == "FIJI WATER .5 LTR"
    assert products[TACO_BELL_FIRE_UPC].name == "Taco Bell Fire"
    assert str(products[FIJI_UPC].price) == "1.00"
    assert products[FIJI_UPC].unit_weight_g == 538.0


def test_truth_has_one_shopper_with_two_items(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    recording, report, _ = imported
    assert recording.truth is not None
    receipts = recording.truth.receipts
    assert len(receipts) == 1
    assert receipts[0].account == "target-3594178763236981970"
    assert receipts[0].items == {FIJI_UPC: 1, TACO_BELL_FIRE_UPC: 1}
    plates = {event.sku: event.plate for event in recording.truth.events}
    assert plates == {FIJI_UPC: "1.5.10", TACO_BELL_FIRE_UPC: "2.5.4"}
    assert report.labelled_events_matched == 2
    assert [gate.action for gate in recording.gates] == ["enter"]


def test_truth_times_sit_in_weight_change(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    recording = imported[0]
    assert recording.truth is not None
    fiji = next(e for e in recording.truth.events if e.sku == FIJI_UPC)
    series = recording.weights.for_plate("1.5.10")
    before = np.median(series.g[(series.t > fiji.t - 2) & (series.t < fiji.t - 0.5)])
    after = np.median(series.g[(series.t > fiji.t + 0.5) & (series.t < fiji.t + 2)])
    assert 400 < before - after < 700
    # The label puts this take at 22:24:21 UTC.
    assert 1580250260.0 <= fiji.t <= 1580250263.0


def test_cameras_hang_below_ceiling(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    cameras = imported[0].store.cameras
    assert [camera.id for camera in cameras] == [str(n) for n in range(1, 13)]
    for camera in cameras:
        rotation = camera.world_to_camera[:3, :3]
        centre = -rotation.T @ camera.world_to_camera[:3, 3]
        assert 2.0 < centre[2] < 4.0, camera.id
        assert -1.7 < centre[0] < 5.8, camera.id
        assert -2.8 < centre[1] < 1.5, camera.id


def test_plate_projects_into_seeing_cameras(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    store = imported[0].store
    center = np.array(store.plates["1.5.10"].center)
    for camera in store.cameras:
        if camera.id not in CAMERAS_SEEING_1_5_10:
            continue
        pixels, depth = project_points(
            center, camera.K, camera.dist, camera.world_to_camera
        )
        u, v = pixels[0]
        assert depth[0] > 0, camera.id
        assert 0 <= u < camera.width, camera.id
        assert 0 <= v < camera.height, camera.id


def test_video_index_covers_weights(
    imported: tuple[Recording, ImportReport, float],
) -> None:
    recording = imported[0]
    start, end = recording.weights.time_span
    assert sorted(recording.video, key=int) == ["1", "5", "9", "11"]
    for camera_id, video in recording.video.items():
        assert start <= video.start_t <= end, camera_id
        assert video.fps == pytest.approx(10.0)
        assert recording.path is not None
        assert (recording.path / "video" / video.file).is_file()


def test_missing_labels_entry_imports_without_truth(
    nanostore_dir: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"lists": [{"dataset": "other", "events": []}]}))
    recording, report = build_recording(nanostore_dir / "cps-test-01", labels=labels)
    assert recording.truth is None
    assert any("no entry for dataset" in warning for warning in report.warnings)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no_src", "test-case folder not found"),
        ("no_weights", "weight_csv folder not found"),
        ("no_labels", "hand labels not found"),
        ("bad_csv", "unreadable weight file"),
    ],
)
def test_bad_input_raises(
    nanostore_dir: Path, tmp_path: Path, change: str, message: str
) -> None:
    source = nanostore_dir / "cps-test-01"
    case = tmp_path / "cps-test-01"
    labels = nanostore_dir / "ground_truth_cmu" / "v14.json"
    store_meta = nanostore_dir / "store_meta"
    if change != "no_src":
        case.mkdir()
        shutil.copy(source / "products_planogram.csv", case)
    if change in ("no_labels", "bad_csv"):
        shutil.copytree(source / "weight_csv", case / "weight_csv")
    if change == "no_labels":
        labels = tmp_path / "missing.json"
    if change == "bad_csv":
        (case / "weight_csv" / "gondola_1_shelf_1_plate_1.csv").write_text("1.0,x\n")
    with pytest.raises(AutocheckoutImportError, match=message):
        build_recording(case, store_meta=store_meta, labels=labels)


def test_missing_store_meta_raises(nanostore_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(AutocheckoutImportError, match="store_meta folder not found"):
        build_recording(nanostore_dir / "cps-test-01", store_meta=tmp_path / "none")
